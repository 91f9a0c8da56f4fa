.PHONY: test demo dashboards bench
test:        ## install everything and run the tests with real servers
	scripts/test
demo:        ## the demo on an embedded default
	scripts/demo
dashboards:  ## regenerate the committed Grafana dashboards
	.venv/bin/spinewise dashboards --out deploy/grafana/dashboards
