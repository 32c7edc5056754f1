#include "fairway_smtp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* curl_easy_setopt is variadic, which Swift cannot call; this file is the whole SMTP exchange. */

struct cursor {
    const char *data;
    size_t left;
};

static size_t read_message(char *buffer, size_t size, size_t count, void *context) {
    struct cursor *cursor = context;
    size_t room = size * count;
    size_t step = cursor->left < room ? cursor->left : room;
    memcpy(buffer, cursor->data, step);
    cursor->data += step;
    cursor->left -= step;
    return step;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int fairway_smtp_send(const char *url, const char *from, const char *const *recipients, size_t recipient_count,
                      const char *message, size_t length, long timeout_seconds, char *error, size_t error_size) {
    pthread_once(&global_once, global_init);
    char buffer[CURL_ERROR_SIZE] = {0};
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(error, error_size, "libcurl could not start a session");
        return -1;
    }
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < recipient_count; i++) {
        struct curl_slist *next = curl_slist_append(list, recipients[i]);
        if (!next) {
            curl_slist_free_all(list);
            curl_easy_cleanup(curl);
            snprintf(error, error_size, "out of memory");
            return -1;
        }
        list = next;
    }
    struct cursor cursor = {message, length};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, list);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &cursor);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, buffer);
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        snprintf(error, error_size, "%s", buffer[0] ? buffer : curl_easy_strerror(code));
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return (int)code;
}
