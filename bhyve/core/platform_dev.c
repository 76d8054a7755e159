/*
 * Brings up the platform devices registered in the platform_devs set, in
 * their declared order, and tears them down in reverse at exit.
 */
#include <stdio.h>
#include <stdlib.h>

#include "platform_dev.h"

SET_DECLARE(platform_devs, struct platform_dev);

static const struct platform_dev **platform_started;
static size_t platform_nstarted;

static int
platform_cmp(const void *a, const void *b)
{
	const struct platform_dev *const *pa = a, *const *pb = b;

	return ((*pa)->pd_order > (*pb)->pd_order) -
	       ((*pa)->pd_order < (*pb)->pd_order);
}

int
platform_init(struct vmctx *ctx)
{
	struct platform_dev *const *pdp;
	const struct platform_dev **sorted;
	size_t n = SET_COUNT(platform_devs), i = 0;

	sorted = calloc(n + 1, sizeof(*sorted));
	if (sorted == NULL)
		return -1;
	SET_FOREACH(pdp, platform_devs)
	sorted[i++] = *pdp;
	qsort(sorted, n, sizeof(*sorted), platform_cmp);
	platform_started = sorted;
	platform_nstarted = 0;
	for (i = 0; i < n; i++) {
		if (sorted[i]->pd_init(ctx) != 0)
			return -1;
		platform_nstarted = i + 1;
	}
	return 0;
}

void
platform_fini(void)
{
	while (platform_nstarted > 0) {
		const struct platform_dev *pd =
		    platform_started[--platform_nstarted];

		if (pd->pd_fini != NULL)
			pd->pd_fini();
	}
	free(platform_started);
	platform_started = NULL;
}
