/* api_window.c: pcr_policy_window, the policy's effective window as text
 * (include/pcr/pcr.h, "Policy windows"). */
#include "dates.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "prog.h"

void pcr_policy_window(const pcr_policy *p, char from[11], char through[11])
{
    const Prog *prog = p->prog;
    from[0] = '\0';
    through[0] = '\0';
    if (prog->eff_from != DATE_OPEN_FROM) date_format(prog->eff_from, from);
    if (prog->eff_through != DATE_OPEN_THROUGH) date_format(prog->eff_through, through);
}
