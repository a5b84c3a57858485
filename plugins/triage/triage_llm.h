/*
 * plugins/triage/triage_llm.h -- triage by a language model: the prompt,
 * the JSON Schema of the answer (category from a fixed list, priority on
 * the tickets' scale, sentiment, each with a confidence, and a short
 * reason) and its strict check.  The call itself is plugins/common/llm.h;
 * whatever it discards, triage.c answers with its local path.
 *
 * Ownership: the answer is a caller-owned struct of fixed buffers; the
 * call record (struct llm_call) is the caller's to clear.
 */
#ifndef PLUGINS_TRIAGE_TRIAGE_LLM_H
#define PLUGINS_TRIAGE_TRIAGE_LLM_H

#include "../common/llm.h"

#define TRIAGE_LLM_MAX_TEXT 8000       /* bytes of a ticket sent to the model */
#define TRIAGE_LLM_MAX_CATEGORIES 200

struct triage_llm_answer {
    int has_category;
    char category[128];
    double category_conf;
    char priority[16];               /* low, normal, high, urgent */
    double priority_conf;
    char sentiment[16];              /* negative, neutral, positive */
    double sentiment_conf;
    char reason[320];
};

/* Asks the model about text (subject and first message).  categories:
 * the names the answer may use (NULL-terminated), or NULL/empty when no
 * category is asked for.  0 with *out filled, or -1 (call->outcome and
 * call->error say why). */
int triage_llm_ask(struct llm *l, struct atum_job *job, const char *text, const char *const *categories,
                   struct triage_llm_answer *out, struct llm_call *call);

/* The same from a stored run's input (replay): the "text" and
 * "categories" it recorded. */
int triage_llm_ask_input(struct llm *l, struct atum_job *job, json_t *input, struct triage_llm_answer *out,
                         struct llm_call *call);

/* The answer as the JSON stored in a run's result. */
json_t *triage_llm_answer_json(const struct triage_llm_answer *a);

#endif
