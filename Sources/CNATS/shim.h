#ifndef C_NATS_SHIM_H
#define C_NATS_SHIM_H

#include <nats/nats.h>

#endif
