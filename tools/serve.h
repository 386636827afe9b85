/* serve.h: `pcrvm serve`, PCR's decisions over HTTP (docs/serve.md), the
 * program bin/pcrvm-serve (tools/pcrvm-serve.c). */
#ifndef PCR_TOOLS_SERVE_H
#define PCR_TOOLS_SERVE_H

/* Runs the server: argv[0] (the program's name, not read), then options
 * and policy files. Returns the process exit status: 0 after a SIGTERM or
 * SIGINT shutdown, 2 when the options, the policies or the listening
 * socket cannot be used. */
int serve_main(int argc, char **argv);

#endif
