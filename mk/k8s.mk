# Containers and Kubernetes: images, a local kind cluster, the Helm release, observability.
# Included by the Makefile; every variable can be overridden: `make images IMAGE_TAG=dev`.

IMAGE_PREFIX ?= saga/
IMAGE_TAG ?= 0.1.0
# Empty: Dockerfile.base's default (python:3.11-slim-bookworm, pinned by digest).
BASE_IMAGE ?=
KIND_CLUSTER ?= saga
NAMESPACE ?= saga
RELEASE ?= saga
OBSERVABILITY_NAMESPACE ?= observability
# The saga's ServiceMonitor and PrometheusRule (values/observed.yaml): 1 on, 0 off, empty:
# on when the cluster has the Prometheus Operator's CRDs (`make observability-up`).
OBSERVED ?=
MONITORING_CRDS := servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com
# Labels that find each Service whatever the releases are called (tests/charts checks them
# against the rendered charts), and the Service port to forward.
SAGA_SELECTOR := app.kubernetes.io/part-of=saga,app.kubernetes.io/component=service
SAGA_PORT := http
JAEGER_SELECTOR := app.kubernetes.io/name=jaeger,app.kubernetes.io/component=all-in-one
JAEGER_PORT := http-query
GRAFANA_SELECTOR := app.kubernetes.io/name=grafana
GRAFANA_PORT := http-web
PROMETHEUS_SELECTOR := app=kube-prometheus-stack-prometheus
PROMETHEUS_PORT := http-web
GRAFANA_SECRET_SELECTOR := app.kubernetes.io/name=grafana,app.kubernetes.io/component=admin-secret
export IMAGE_PREFIX IMAGE_TAG BASE_IMAGE

SAGA_PORTS := booking:8001 manager:8002 billing:8003 payment:8004 invoice:8005
UI_PORTS := jaeger:16686 grafana:3000 prometheus:9090
SAGA_URLS := SAGA_BOOKING_URL=http://127.0.0.1:8001 SAGA_MANAGER_URL=http://127.0.0.1:8002 \
	SAGA_BILLING_URL=http://127.0.0.1:8003 SAGA_PAYMENT_URL=http://127.0.0.1:8004 \
	SAGA_INVOICE_URL=http://127.0.0.1:8005
FORWARDS := .local/port-forward
# The release's dev signing key (values/kind.yaml: auth.mode=dev), copied out of the Secret
# its pods mount, so sagactl and the e2e tests sign tokens the cluster accepts.
CLUSTER_KEY ?= .local/auth/cluster-dev-signing-key.pem
DEV_KEY_VOLUME := auth-dev-key
# Asks booking's Deployment which Secret and key it mounts as the dev key (the chart's own
# or auth.dev.existingSecret), then copies that key, owner-only. Fails saying why.
FETCH_CLUSTER_KEY := deploy=$$(kubectl -n $(NAMESPACE) get deployment \
		-l '$(SAGA_SELECTOR),app.kubernetes.io/name=booking,app.kubernetes.io/instance=$(RELEASE)' -o name | head -n 1); \
	if [ -z "$$deploy" ]; then echo "no saga release $(RELEASE) in namespace $(NAMESPACE) (make deploy)" >&2; exit 1; fi; \
	volume='{.spec.template.spec.volumes[?(@.name=="$(DEV_KEY_VOLUME)")].secret'; \
	secret=$$(kubectl -n $(NAMESPACE) get "$$deploy" -o jsonpath="$$volume.secretName}"); \
	key=$$(kubectl -n $(NAMESPACE) get "$$deploy" -o jsonpath="$$volume.items[0].key}"); \
	if [ -z "$$secret" ]; then echo "$(RELEASE) does not run auth.mode=dev, so it has no dev key:" \
		"call it with a token from its issuer (SAGA_TOKEN, docs/security.md)" >&2; exit 1; fi; \
	mkdir -p $(dir $(CLUSTER_KEY)); \
	(umask 077; kubectl -n $(NAMESPACE) get secret "$$secret" -o jsonpath="{.data.$${key//./\\.}}" \
		| base64 -d >$(CLUSTER_KEY).tmp) && [ -s $(CLUSTER_KEY).tmp ] && mv $(CLUSTER_KEY).tmp $(CLUSTER_KEY) \
		|| { rm -f $(CLUSTER_KEY).tmp; echo "could not read $$key of Secret $$secret" >&2; exit 1; }; \
	echo "$(CLUSTER_KEY): the dev signing key of $(RELEASE) (export SAGA_DEV_KEY_FILE=$(CLUSTER_KEY))"
# Kills only the kubectl processes whose ids `make port-forward` wrote down.
STOP_FORWARDS := for pidfile in $(FORWARDS)/*.pid; do \
	[ -e "$$pidfile" ] || continue; kill "$$(cat "$$pidfile")" 2>/dev/null || true; rm -f "$$pidfile"; \
	done

.PHONY: images kind-up kind-load deploy observability-up grafana-login cluster-key port-forward port-forward-stop e2e-kind kind-down

images: ## Build the base and the five service images (docker, podman or buildah; IMAGE_TAG=0.1.0)
	scripts/build-images.sh build

kind-up: ## Create the local kind cluster (k8s/kind.yaml, node image pinned by digest)
	kind create cluster --name $(KIND_CLUSTER) --config k8s/kind.yaml

kind-load: ## Load the five service images into the kind cluster
	scripts/build-images.sh kind-load $(KIND_CLUSTER)

# 1 when monitoring goes on (OBSERVED=1, or OBSERVED unset and both CRDs in the cluster);
# expanded only by `make deploy`, so no other target asks the cluster.
observed = $(if $(OBSERVED),$(filter 1,$(OBSERVED)),$(if $(filter-out \
	$(shell kubectl api-resources --api-group=monitoring.coreos.com -o name --request-timeout=10s 2>/dev/null),\
	$(MONITORING_CRDS)),,1))
SAGA_VALUES = $(if $(observed),-f charts/saga/values/observed.yaml )-f charts/saga/values/kind.yaml

deploy: ## Install or upgrade the saga (kind values; monitoring on if the cluster has Prometheus' CRDs, or OBSERVED=1/0)
	helm dependency build charts/saga
	helm upgrade --install $(RELEASE) charts/saga -n $(NAMESPACE) --create-namespace \
		$(SAGA_VALUES) --set global.image.tag=$(IMAGE_TAG) --wait --timeout 10m

# The release name is fixed: values/observed.yaml labels the saga's monitors with it.
observability-up: ## Install the pinned OpenTelemetry Collector, Jaeger, Prometheus and Grafana (charts/observability, offline)
	helm upgrade --install observability charts/observability -n $(OBSERVABILITY_NAMESPACE) \
		--create-namespace --wait --timeout 10m

grafana-login: ## Print Grafana's admin user and password (random, in a Secret of charts/observability)
	@secret=$$(kubectl -n $(OBSERVABILITY_NAMESPACE) get secret -l '$(GRAFANA_SECRET_SELECTOR)' -o name | head -n 1); \
	if [ -z "$$secret" ]; then \
		echo "No Grafana admin Secret in namespace $(OBSERVABILITY_NAMESPACE) (make observability-up)" >&2; exit 1; \
	fi; \
	echo "Grafana http://127.0.0.1:3000 (make port-forward)"; \
	echo "user:     $$(kubectl -n $(OBSERVABILITY_NAMESPACE) get "$$secret" -o jsonpath='{.data.admin-user}' | base64 -d)"; \
	echo "password: $$(kubectl -n $(OBSERVABILITY_NAMESPACE) get "$$secret" -o jsonpath='{.data.admin-password}' | base64 -d)"

cluster-key: ## Copy the release's dev signing key (auth.mode=dev) to .local/auth/ for sagactl and the e2e tests
	@$(FETCH_CLUSTER_KEY)

port-forward: port-forward-stop ## Forward the services to :8001-8005, Jaeger to :16686, Grafana to :3000, Prometheus to :9090
	@mkdir -p $(FORWARDS)
	@forward() { \
		svc=$$(kubectl -n "$$1" get svc -l "$$2" -o name | head -n 1); \
		if [ -z "$$svc" ]; then echo "$$4: no Service labelled $$2 in namespace $$1"; return; fi; \
		nohup kubectl -n "$$1" port-forward "$$svc" "$$3" >"$(FORWARDS)/$$4.log" 2>&1 & \
		echo $$! >"$(FORWARDS)/$$4.pid"; \
	}; \
	for pair in $(SAGA_PORTS); do \
		name=$${pair%%:*}; port=$${pair##*:}; \
		forward $(NAMESPACE) "$(SAGA_SELECTOR),app.kubernetes.io/name=$$name" $$port:$(SAGA_PORT) $$name; \
	done; \
	forward $(OBSERVABILITY_NAMESPACE) "$(JAEGER_SELECTOR)" 16686:$(JAEGER_PORT) jaeger; \
	forward $(OBSERVABILITY_NAMESPACE) "$(GRAFANA_SELECTOR)" 3000:$(GRAFANA_PORT) grafana; \
	forward $(OBSERVABILITY_NAMESPACE) "$(PROMETHEUS_SELECTOR)" 9090:$(PROMETHEUS_PORT) prometheus
	@for pair in $(SAGA_PORTS) $(UI_PORTS); do \
		name=$${pair%%:*}; port=$${pair##*:}; \
		if [ ! -e $(FORWARDS)/$$name.pid ]; then \
			case " $(UI_PORTS) " in *" $$pair "*) continue;; esac; \
			echo "$$name: not deployed (make deploy)" >&2; exit 1; \
		fi; \
		for _ in $$(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null && break; sleep 0.1; done; \
		(exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null \
			|| { echo "$$name: port-forward failed, see $(FORWARDS)/$$name.log" >&2; exit 1; }; \
	done
	@echo "Forwarding: http://127.0.0.1:8001/docs ... :8005/docs, Jaeger http://127.0.0.1:16686,"
	@echo "Grafana http://127.0.0.1:3000 (make grafana-login), Prometheus http://127.0.0.1:9090"
	@echo "Tokens: make cluster-key (dev mode); make demo signs with that key while the forwards run"
	@echo "Stop with: make port-forward-stop"

port-forward-stop: ## Stop the port-forwards that `make port-forward` started
	@$(STOP_FORWARDS)

e2e-kind: install port-forward cluster-key ## Against the cluster: `helm test`, then the e2e tests marked `cluster` through the port-forwards
	@status=0; \
	helm test $(RELEASE) -n $(NAMESPACE) --logs --timeout 5m || status=$$?; \
	SAGA_E2E_TARGET=urls SAGA_DEV_KEY_FILE=$(CLUSTER_KEY) $(SAGA_URLS) $(RUN) pytest -m cluster tests/e2e || status=$$?; \
	SAGA_DEV_KEY_FILE=$(CLUSTER_KEY) $(SAGA_URLS) $(RUN) sagactl demo || status=$$?; \
	$(STOP_FORWARDS); \
	exit $$status

# `make verify-observability`: the demo writes its booking ids here, the verifier its report.
DEMO_IDS ?= .local/demo-bookings.json
VERIFY_LOG ?= .local/verify-observability.log
VERIFY_TIMEOUT ?= 300
# Grafana's admin password: kube-prometheus-stack generates it into its Grafana Secret.
GRAFANA_SECRET_PASSWORD := kubectl -n $(OBSERVABILITY_NAMESPACE) get secret \
	-l '$(GRAFANA_SECRET_SELECTOR)' -o jsonpath='{.items[0].data.admin-password}' | base64 -d

.PHONY: verify-observability
verify-observability: install port-forward cluster-key ## Run the demo, then check its saga shows in Jaeger, Prometheus and Grafana (docs/verify-observability.md)
	@set -o pipefail; status=0; rm -f $(DEMO_IDS); mkdir -p $(dir $(VERIFY_LOG)); \
	password="$${GRAFANA_PASSWORD:-$$($(GRAFANA_SECRET_PASSWORD))}"; \
	SAGA_DEV_KEY_FILE=$(CLUSTER_KEY) $(SAGA_URLS) $(RUN) sagactl demo --ids-file $(DEMO_IDS) || status=$$?; \
	GRAFANA_PASSWORD="$$password" $(RUN) sagactl verify-observability --ids-file $(DEMO_IDS) \
		--timeout $(VERIFY_TIMEOUT) 2>&1 | tee $(VERIFY_LOG) || status=$$?; \
	$(STOP_FORWARDS); \
	exit $$status

kind-down: port-forward-stop ## Delete the kind cluster
	kind delete cluster --name $(KIND_CLUSTER)
