// The parts of rabbitmq-c (0.11, Debian librabbitmq-dev) that Swift cannot import directly:
// variadic login functions and method ids defined as cast macros.
#ifndef FAIRWAY_CRABBITMQ_SHIM_H
#define FAIRWAY_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <sys/eventfd.h>

// amqp_login_with_properties is variadic; PLAIN is the only mechanism Fairway uses.
static inline amqp_rpc_reply_t fairway_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                        int frame_max, int heartbeat_seconds,
                                                        const amqp_table_t *client_properties,
                                                        const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, 0, frame_max, heartbeat_seconds, client_properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

static const amqp_method_number_t FAIRWAY_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t FAIRWAY_CONNECTION_CLOSE_OK = AMQP_CONNECTION_CLOSE_OK_METHOD;
static const amqp_method_number_t FAIRWAY_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t FAIRWAY_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD;
static const amqp_method_number_t FAIRWAY_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t FAIRWAY_CHANNEL_CLOSE_OK = AMQP_CHANNEL_CLOSE_OK_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_CANCEL_OK = AMQP_BASIC_CANCEL_OK_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_GET_OK = AMQP_BASIC_GET_OK_METHOD;
static const amqp_method_number_t FAIRWAY_BASIC_GET_EMPTY = AMQP_BASIC_GET_EMPTY_METHOD;

static const amqp_flags_t FAIRWAY_PROP_CONTENT_TYPE = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t FAIRWAY_PROP_HEADERS = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t FAIRWAY_PROP_DELIVERY_MODE = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t FAIRWAY_PROP_CORRELATION_ID = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t FAIRWAY_PROP_MESSAGE_ID = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t FAIRWAY_PROP_TIMESTAMP = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t FAIRWAY_PROP_TYPE = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t FAIRWAY_PROP_APP_ID = AMQP_BASIC_APP_ID_FLAG;

// The owner thread sleeps in poll() on the socket and on this eventfd; other threads write it to
// hand over work. (Glibc's Swift overlay does not export eventfd.)
static inline int fairway_wakeup_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
static inline void fairway_wakeup_signal(int fd) { (void)eventfd_write(fd, 1); }
static inline void fairway_wakeup_drain(int fd) { eventfd_t value; (void)eventfd_read(fd, &value); }

#endif
