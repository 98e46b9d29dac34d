/*
 * sdn: systemd's service notifications (Type=notify) without libsystemd: a
 * datagram ("READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1") to the
 * unix socket $NOTIFY_SOCKET names ('@' first: an abstract socket). With
 * no such variable every call does nothing, so vigild runs the same under
 * systemd, another supervisor or a shell.
 */
#ifndef VIGIL_SDN_H
#define VIGIL_SDN_H

#include <stdint.h>

/* Send one state line. 0 sent (or nothing to send to), -1 the send failed. */
int sdn_notify(const char *state);

/* How often to send WATCHDOG=1: half of $WATCHDOG_USEC (when $WATCHDOG_PID
 * is unset or ours), in ms; 0 when the watchdog is off. */
int64_t sdn_watchdog_ms(void);

#endif
