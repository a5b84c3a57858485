/*
 * plugins/rag/rag_answer.h -- an answer drafted by a language model from
 * the retrieved passages only: the prompt (numbered passages, the
 * question, the customer's language), the JSON Schema of the answer
 * ({"answered": bool, "answer": text, "citations": [passage numbers]})
 * and its strict check: every cited number, in the list and as "[n]" in
 * the text, must be one of the passages given; an answer without a
 * citation is no answer.  "I don't know" is the model's answered = false,
 * or no passage above the relevance threshold (then no call is made).
 *
 * Ownership: rag_answer_ask() fills a caller-owned struct whose strings
 * it allocates; rag_answer_clear() frees them.
 */
#ifndef PLUGINS_RAG_RAG_ANSWER_H
#define PLUGINS_RAG_RAG_ANSWER_H

#include "../common/llm.h"

#define RAG_ANSWER_MAX_PASSAGES 8
#define RAG_PASSAGE_MAX_TEXT 1500      /* bytes of a passage given to the model */

struct rag_passage {
    const char *title, *section, *text;
};

struct rag_answer {
    int answered;
    char *answer;
    int cites[RAG_ANSWER_MAX_PASSAGES];    /* 1-based passage numbers */
    size_t ncites;
};

int rag_answer_ask(struct llm *l, struct atum_job *job, const char *question, const char *language,
                   const struct rag_passage *p, size_t np, struct rag_answer *out, struct llm_call *call);
void rag_answer_clear(struct rag_answer *a);

#endif
