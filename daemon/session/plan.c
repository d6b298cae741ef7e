#include "session/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int roles_add(struct store *s, struct plans *p, const char *name,
	      const char *arn, const char *principal_arn,
	      uint32_t duration_cfg)
{
	struct role_plan *v;
	char *pa = NULL;
	int r;

	if (principal_arn) {
		pa = strdup(principal_arn);
		if (!pa)
			return -ENOMEM;
	}
	v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v) {
		free(pa);
		return -ENOMEM;
	}
	p->v = v;
	r = store_add_role(s, name, arn, duration_cfg);
	if (r < 0) {
		free(pa);
		return r;
	}
	p->v[p->n++] = (struct role_plan){
		.principal_arn = pa,
		.duration_cfg = duration_cfg,
		.sizing.cfg = duration_cfg,
	};
	return 0;
}

struct role_plan *plan_of(struct plans *p, const struct store *s,
			  const struct role_session *r)
{
	size_t i = (size_t)(r - s->roles);

	return i < p->n ? &p->v[i] : NULL;
}

void plans_reset(struct plans *p)
{
	for (size_t i = 0; i < p->n; i++) {
		p->v[i].next_refresh = 0;
		p->v[i].failures = 0;
	}
}

void plans_clear(struct plans *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].principal_arn);
	free(p->v);
	*p = (struct plans){ 0 };
}
