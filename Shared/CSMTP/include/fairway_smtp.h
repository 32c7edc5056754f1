#ifndef FAIRWAY_SMTP_H
#define FAIRWAY_SMTP_H

#include <stddef.h>

/// Sends one message through libcurl's SMTP client. `url` is smtp://[user:password@]host[:port]
/// (STARTTLS when the server offers it) or smtps://; `message` is the whole RFC 5322 text with CRLF
/// line ends. Returns 0 on success; otherwise a libcurl code, with the reason in `error`.
int fairway_smtp_send(const char *url, const char *from, const char *const *recipients, size_t recipient_count,
                      const char *message, size_t length, long timeout_seconds, char *error, size_t error_size);

#endif
