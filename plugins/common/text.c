/* plugins/common/text.c -- see text.h. */
#include "text.h"

#include <stdlib.h>
#include <string.h>

static void *xgrow(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

int32_t text_utf8_next(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    unsigned c = *p;
    int need;
    int32_t cp;
    if (c < 0x80) {
        *pp = p + 1;
        return (int32_t)c;
    }
    if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
    else { *pp = p + 1; return -1; }
    if (end - p <= need) {
        *pp = p + 1;
        return -1;
    }
    for (int i = 1; i <= need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *pp = p + 1;
            return -1;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* overlong forms, surrogates and values past U+10FFFF are invalid */
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff)) {
        *pp = p + 1;
        return -1;
    }
    *pp = p + need + 1;
    return cp;
}

size_t text_utf8_put(char *buf, int32_t cp)
{
    unsigned char *b = (unsigned char *)buf;
    if (cp < 0x80) { b[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { b[0] = (unsigned char)(0xc0 | (cp >> 6)); b[1] = (unsigned char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12)); b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (unsigned char)(0xf0 | (cp >> 18)); b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)); b[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

int32_t text_lower(int32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp < 0xc0)
        return cp;
    if (cp <= 0xde && cp != 0xd7)
        return cp + 32;                          /* Latin-1 */
    if (cp >= 0x100 && cp <= 0x17f && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149) {
        /* Latin Extended-A: pairs, upper first (two runs shifted by one) */
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e))
            return (cp & 1) ? cp + 1 : cp;
        return (cp & 1) ? cp : cp + 1;
    }
    if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)
        return cp + 32;                          /* Greek */
    if (cp >= 0x410 && cp <= 0x42f)
        return cp + 32;                          /* Cyrillic */
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 80;
    return cp;
}

int text_is_letter(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp < 0xc0)
        return cp == 0xaa || cp == 0xb5 || cp == 0xba;
    if (cp == 0xd7 || cp == 0xf7)
        return 0;
    if (cp < 0x2000)
        return 1;                                /* Latin, Greek, Cyrillic, Hebrew, Arabic, Indic ... */
    if (cp < 0x2c00)
        return 0;                                /* punctuation, symbols, arrows, dingbats */
    if (cp >= 0x3000 && cp <= 0x303f)
        return 0;                                /* CJK punctuation */
    if (cp >= 0xfe00 && cp <= 0xfe0f)
        return 0;                                /* variation selectors */
    if (cp >= 0xff00 && cp <= 0xff0f)
        return 0;
    if (cp >= 0x1f000)
        return 0;                                /* emoji and friends */
    return 1;
}

static int is_emoji(int32_t cp)
{
    return (cp >= 0x1f300 && cp <= 0x1faff) || (cp >= 0x2600 && cp <= 0x27bf);
}

static int emoji_polarity(int32_t cp)
{
    if ((cp >= 0x1f600 && cp <= 0x1f60d) || cp == 0x1f642 || cp == 0x1f917 || cp == 0x1f44d
        || cp == 0x1f44f || cp == 0x1f64c || cp == 0x2764 || cp == 0x1f495 || cp == 0x1f496
        || cp == 0x1f497 || cp == 0x1f499 || cp == 0x1f49c || cp == 0x1f60e || cp == 0x1f618
        || cp == 0x2728 || cp == 0x1f389 || cp == 0x1f38a || cp == 0x263a || cp == 0x1f603)
        return 1;
    if ((cp >= 0x1f61e && cp <= 0x1f62b) || cp == 0x1f612 || cp == 0x1f613 || cp == 0x1f614
        || cp == 0x1f615 || cp == 0x1f616 || cp == 0x1f620 || cp == 0x1f621 || cp == 0x1f624
        || cp == 0x1f62d || cp == 0x1f630 || cp == 0x1f631 || cp == 0x1f641 || cp == 0x2639
        || cp == 0x1f44e || cp == 0x1f494 || cp == 0x1f611 || cp == 0x1f610)
        return -1;
    return 0;
}

/* ASCII emoticons: text, polarity. */
static const struct { const char *s; int pol; } emoticons[] = {
    { ":-)", 1 }, { ":)", 1 }, { ":-D", 1 }, { ":D", 1 }, { ";-)", 1 }, { ";)", 1 }, { "=)", 1 },
    { ":]", 1 }, { "<3", 1 }, { ":P", 1 }, { ":p", 1 }, { ":-P", 1 }, { "xD", 1 }, { "XD", 1 },
    { ":-(", -1 }, { ":(", -1 }, { ":'(", -1 }, { ":-/", -1 }, { ":/", -1 }, { "=(", -1 },
    { ":[", -1 }, { ">:(", -1 }, { ":-|", 0 }, { ":|", 0 },
};

static const char *const negators[] = {
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "cannot",
    "without", "hardly", "barely", "cant", "dont", "wont", "isnt", "arent", "wasnt", "didnt",
    "doesnt", "havent", "hasnt", "couldnt", "shouldnt", "wouldnt", NULL
};

static int is_negator(const char *w, size_t n)
{
    if (n >= 3 && (memcmp(w + n - 3, "n't", 3) == 0))
        return 1;
    if (n >= 5 && memcmp(w + n - 5, "n\xe2\x80\x99t", 5) == 0)
        return 1;
    for (const char *const *p = negators; *p; p++)
        if (strlen(*p) == n && memcmp(*p, w, n) == 0)
            return 1;
    return 0;
}

static void push(struct text_tokens *t, const char *s, size_t n, unsigned flags, int emo)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = xgrow(t->v, t->cap * sizeof(*t->v));
    }
    struct text_token *k = &t->v[t->n++];
    k->s = xgrow(NULL, n + 1);
    memcpy(k->s, s, n);
    k->s[n] = '\0';
    k->len = (unsigned)n;
    k->flags = flags;
    k->emo = emo;
}

static int is_space_or_end(const unsigned char *p, const unsigned char *end)
{
    return p >= end || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
}

void text_tokenize(const char *text, size_t len, struct text_tokens *out)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL)
        return;
    if (len > TEXT_MAX_INPUT)
        len = TEXT_MAX_INPUT;
    out->bytes = len;
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    size_t wcap = 256;
    char *word = xgrow(NULL, wcap);
    int prev_space = 1;
    while (p < end) {
        /* URLs */
        if ((end - p > 7 && (memcmp(p, "http://", 7) == 0 || memcmp(p, "https://", 8) == 0))
            || (end - p > 4 && memcmp(p, "www.", 4) == 0 && prev_space)) {
            while (p < end && !is_space_or_end(p, end))
                p++;
            push(out, "<url>", 5, TOK_SPECIAL, 0);
            prev_space = 1;
            continue;
        }
        /* ASCII emoticons, only standing apart from words */
        if (prev_space && (*p == ':' || *p == ';' || *p == '=' || *p == '<' || *p == '>' || *p == 'x' || *p == 'X')) {
            int hit = 0;
            for (size_t i = 0; i < sizeof(emoticons) / sizeof(emoticons[0]); i++) {
                size_t n = strlen(emoticons[i].s);
                if ((size_t)(end - p) >= n && memcmp(p, emoticons[i].s, n) == 0
                    && (is_space_or_end(p + n, end) || p[n] == '.' || p[n] == ',' || p[n] == '!')) {
                    push(out, emoticons[i].s, n, TOK_EMOTICON, emoticons[i].pol);
                    p += n;
                    hit = 1;
                    break;
                }
            }
            if (hit)
                continue;
        }
        if (*p == '@' && p + 1 < end && text_is_letter(p[1] < 0x80 ? p[1] : 0x100)) {
            push(out, "<user>", 6, TOK_SPECIAL, 0);
            p++;
            prev_space = 0;
            continue;                            /* the name follows as a word */
        }
        const unsigned char *q = p;
        int32_t cp = text_utf8_next(&q, end);
        if (cp >= 0 && text_is_letter(cp)) {
            size_t wl = 0;
            unsigned nletters = 0, nupper = 0, ndigits = 0;
            const unsigned char *r = p;
            while (r < end) {
                const unsigned char *s = r;
                int32_t c = text_utf8_next(&s, end);
                int apostrophe = (c == '\'' || c == 0x2019) && wl > 0 && s < end;
                if (apostrophe) {
                    const unsigned char *s2 = s;
                    int32_t c2 = text_utf8_next(&s2, end);
                    if (c2 < 0 || !text_is_letter(c2))
                        break;
                    c = '\'';
                } else if (c < 0 || !text_is_letter(c)) {
                    break;
                }
                if (c >= '0' && c <= '9')
                    ndigits++;
                else if (c != '\'') {
                    nletters++;
                    int32_t lc = text_lower(c);
                    if (lc != c)
                        nupper++;
                    c = lc;
                }
                if (wl + 4 >= wcap) {
                    wcap *= 2;
                    word = xgrow(word, wcap);
                }
                wl += text_utf8_put(word + wl, c);
                r = s;
                if (wl > 200)                    /* a "word" this long is noise: cut it */
                    break;
            }
            out->letters += nletters;
            out->capitals += nupper;
            unsigned flags = TOK_WORD;
            if (nletters >= 3 && nupper == nletters)
                flags |= TOK_ALLCAPS;
            if (ndigits >= 3 && nletters == 0) {
                push(out, "<num>", 5, TOK_SPECIAL, 0);
            } else {
                if (is_negator(word, wl))
                    flags |= TOK_NEGATOR;
                push(out, word, wl, flags, 0);
            }
            p = r > p ? r : q;
            prev_space = 0;
            continue;
        }
        if (cp >= 0 && is_emoji(cp)) {
            char buf[4];
            size_t n = text_utf8_put(buf, cp);
            push(out, buf, n, TOK_EMOTICON, emoji_polarity(cp));
            p = q;
            prev_space = 1;
            continue;
        }
        if (cp == '!')
            out->exclamations++;
        if (cp == '?')
            out->questions++;
        if ((cp == '.' || cp == ',' || cp == ';' || cp == '!' || cp == '?' || cp == ':') && out->n > 0)
            out->v[out->n - 1].flags |= TOK_CLAUSE_END;
        prev_space = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '(' || cp == '"';
        p = q;
    }
    free(word);
}

void text_tokens_free(struct text_tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].s);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

char *text_fold(const char *text, size_t len, size_t *len_r)
{
    if (len > TEXT_MAX_INPUT)
        len = TEXT_MAX_INPUT;
    char *out = xgrow(NULL, len * 2 + 2);
    size_t o = 0;
    int space = 1;
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    while (p < end) {
        int32_t cp = text_utf8_next(&p, end);
        if (cp >= 0 && text_is_letter(cp)) {
            o += text_utf8_put(out + o, text_lower(cp));
            space = 0;
        } else if (!space) {
            out[o++] = ' ';
            space = 1;
        }
    }
    if (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    if (len_r)
        *len_r = o;
    return out;
}

uint64_t text_hash(uint64_t seed, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    /* final avalanche (splitmix64): FNV's low bits are weak for short keys */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/* ---- stop words (sorted by bytes: bsearch) ---- */
static const char *const stop_en[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "can't", "could", "did", "didn't", "do", "does", "doesn't", "doing", "don't",
    "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having",
    "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "i'd", "i'll",
    "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just",
    "let's", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same",
    "she", "should", "so", "some", "such", "than", "that", "that's", "the", "their", "theirs",
    "them", "themselves", "then", "there", "there's", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
    "what's", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "won't",
    "would", "you", "you're", "your", "yours", "yourself", "yourselves",
};
static const char *const stop_de[] = {
    "aber", "alle", "allem", "allen", "aller", "alles", "als", "also", "am", "an", "ander",
    "andere", "anderem", "anderen", "anderer", "anderes", "auch", "auf", "aus", "bei", "bin",
    "bis", "bist", "da", "damit", "dann", "das", "dass", "dein", "deine", "dem", "den", "der",
    "des", "dessen", "dich", "die", "dies", "diese", "dieser", "dieses", "dir", "doch", "dort",
    "du", "durch", "ein", "eine", "einem", "einen", "einer", "eines", "er", "es", "euch",
    "euer", "für", "hab", "habe", "haben", "hat", "hatte", "ich", "ihm", "ihn", "ihnen", "ihr",
    "ihre", "im", "in", "ins", "ist", "jede", "jedem", "jeden", "jeder", "jedes", "kann",
    "kein", "keine", "können", "mein", "meine", "mich", "mit", "muss", "nach", "nicht",
    "nichts", "noch", "nun", "nur", "ob", "oder", "ohne", "sehr", "sein", "seine", "sich",
    "sie", "sind", "so", "um", "und", "uns", "unser", "unsere", "unter", "viel", "vom", "von",
    "vor", "war", "waren", "was", "weil", "wenn", "wer", "wie", "wir", "wird", "wo", "zu",
    "zum", "zur", "über",
};
static const char *const stop_es[] = {
    "a", "al", "algo", "algunos", "ante", "antes", "como", "con", "contra", "cual", "cuando",
    "de", "del", "desde", "donde", "durante", "e", "el", "ella", "ellas", "ellos", "en",
    "entre", "era", "eres", "es", "esa", "esas", "ese", "eso", "esos", "esta", "estaba",
    "estado", "estamos", "estan", "estar", "estas", "este", "esto", "estos", "estoy", "fue",
    "fueron", "ha", "hay", "he", "la", "las", "le", "les", "lo", "los", "me", "mi", "mis",
    "mucho", "muy", "más", "nada", "ni", "no", "nos", "nosotros", "o", "os", "otra", "otro",
    "para", "pero", "poco", "por", "porque", "que", "quien", "se", "sea", "ser", "si", "sin",
    "sobre", "son", "su", "sus", "también", "tengo", "tiene", "todo", "tu", "tus", "un", "una",
    "uno", "unos", "usted", "y", "ya", "yo",
};
static const char *const stop_fr[] = {
    "ai", "au", "aux", "avec", "avez", "avoir", "c", "ce", "ces", "cet", "cette", "comme", "d",
    "dans", "de", "des", "du", "elle", "en", "est", "et", "eu", "il", "ils", "j", "je", "l",
    "la", "le", "les", "leur", "leurs", "lui", "m", "ma", "mais", "me", "mes", "moi", "mon",
    "n", "ne", "nos", "notre", "nous", "on", "ont", "ou", "où", "par", "pas", "pour", "qu",
    "que", "qui", "s", "sa", "sans", "se", "ses", "si", "son", "sont", "sur", "t", "ta", "te",
    "tes", "toi", "ton", "tu", "un", "une", "vos", "votre", "vous", "y", "à", "été", "être",
};
static const char *const stop_pt[] = {
    "a", "ao", "aos", "as", "até", "com", "como", "da", "das", "de", "dela", "dele", "do",
    "dos", "e", "ela", "ele", "eles", "em", "entre", "era", "essa", "esse", "esta", "este",
    "eu", "foi", "há", "isso", "já", "la", "lhe", "mais", "mas", "me", "meu", "minha", "muito",
    "na", "nas", "no", "nos", "não", "nós", "o", "os", "ou", "para", "pela", "pelo", "por",
    "qual", "quando", "que", "se", "sem", "ser", "seu", "sua", "são", "também", "te", "tem",
    "um", "uma", "você",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int text_is_stopword(const char *lang, const char *word)
{
    static const struct { const char *lang; const char *const *v; size_t n; } lists[] = {
        { "en", stop_en, sizeof(stop_en) / sizeof(stop_en[0]) },
        { "de", stop_de, sizeof(stop_de) / sizeof(stop_de[0]) },
        { "es", stop_es, sizeof(stop_es) / sizeof(stop_es[0]) },
        { "fr", stop_fr, sizeof(stop_fr) / sizeof(stop_fr[0]) },
        { "pt", stop_pt, sizeof(stop_pt) / sizeof(stop_pt[0]) },
    };
    if (lang == NULL || word == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (strcmp(lists[i].lang, lang) == 0)
            return bsearch(&word, lists[i].v, lists[i].n, sizeof(char *), cmp_str) != NULL;
    return 0;
}
