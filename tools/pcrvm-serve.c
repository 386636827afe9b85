/* pcrvm-serve: PCR's decisions over HTTP (tools/serve.c), an executable of
 * its own so that bin/pcrvm links none of the server's libraries
 * (libmicrohttpd and what it pulls in, jansson, libcrypto), whose loading
 * every pcrvm run would otherwise pay for.
 *
 *   pcrvm-serve [options] POLICY...      the same as `pcrvm serve ...`
 *
 * `pcrvm serve ARGS...` execs this program with ARGS (tools/pcrvm.c). Its
 * messages say `pcrvm serve`, the command the documentation gives.
 * docs/serve.md is the manual. */
#include "serve.h"

int main(int argc, char **argv) { return serve_main(argc, argv); }
