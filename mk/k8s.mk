# Containers and Kubernetes: images, a local kind cluster, the Helm release, observability.
# Included by the Makefile; every variable can be overridden: `make images IMAGE_TAG=dev`.

IMAGE_PREFIX ?= saga/
IMAGE_TAG ?= 0.1.0
BASE_IMAGE ?= python:3.11-slim-bookworm
KIND_CLUSTER ?= saga
NAMESPACE ?= saga
RELEASE ?= saga
OBSERVABILITY_NAMESPACE ?= observability
# What `make port-forward` reaches: the services' port (name or number) and the UIs.
SERVICE_PORT ?= http
JAEGER_SERVICE ?= svc/jaeger-query
JAEGER_PORT ?= 16686
GRAFANA_SERVICE ?= svc/kube-prometheus-stack-grafana
GRAFANA_PORT ?= 80
export IMAGE_PREFIX IMAGE_TAG BASE_IMAGE

SAGA_PORTS := booking:8001 manager:8002 billing:8003 payment:8004 invoice:8005
SAGA_URLS := SAGA_BOOKING_URL=http://127.0.0.1:8001 SAGA_MANAGER_URL=http://127.0.0.1:8002 \
	SAGA_BILLING_URL=http://127.0.0.1:8003 SAGA_PAYMENT_URL=http://127.0.0.1:8004 \
	SAGA_INVOICE_URL=http://127.0.0.1:8005
FORWARDS := .local/port-forward
# Kills only the kubectl processes whose ids `make port-forward` wrote down.
STOP_FORWARDS := for pidfile in $(FORWARDS)/*.pid; do \
	[ -e "$$pidfile" ] || continue; kill "$$(cat "$$pidfile")" 2>/dev/null || true; rm -f "$$pidfile"; \
	done

.PHONY: images kind-up kind-load deploy observability-up port-forward port-forward-stop e2e-kind kind-down

images: ## Build the base and the five service images (docker, podman or buildah; IMAGE_TAG=0.1.0)
	scripts/build-images.sh build

kind-up: ## Create the local kind cluster (k8s/kind.yaml, node image pinned by digest)
	kind create cluster --name $(KIND_CLUSTER) --config k8s/kind.yaml

kind-load: ## Load the five service images into the kind cluster
	scripts/build-images.sh kind-load $(KIND_CLUSTER)

deploy: ## Install or upgrade the saga chart in namespace saga (kind values) and wait until ready
	helm dependency build charts/saga
	helm upgrade --install $(RELEASE) charts/saga -n $(NAMESPACE) --create-namespace \
		-f charts/saga/values/kind.yaml --set global.image.tag=$(IMAGE_TAG) --wait --timeout 10m

observability-up: ## Install the OpenTelemetry Collector, Jaeger and kube-prometheus-stack (observability/k8s/)
	helm repo add open-telemetry https://open-telemetry.github.io/opentelemetry-helm-charts --force-update
	helm repo add jaegertracing https://jaegertracing.github.io/helm-charts --force-update
	helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
	helm repo update open-telemetry jaegertracing prometheus-community
	helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
		-n $(OBSERVABILITY_NAMESPACE) --create-namespace \
		-f observability/k8s/kube-prometheus-stack.yaml --wait --timeout 10m
	helm upgrade --install jaeger jaegertracing/jaeger -n $(OBSERVABILITY_NAMESPACE) \
		-f observability/k8s/jaeger.yaml --wait --timeout 10m
	helm upgrade --install otel-collector open-telemetry/opentelemetry-collector \
		-n $(OBSERVABILITY_NAMESPACE) -f observability/k8s/otel-collector.yaml --wait --timeout 10m

port-forward: ## Forward the services to localhost:8001-8005, Jaeger to :16686, Grafana to :3000 (background)
	@mkdir -p $(FORWARDS)
	@forward() { \
		nohup kubectl -n "$$1" port-forward "$$2" "$$3" >"$(FORWARDS)/$$4.log" 2>&1 & \
		echo $$! >"$(FORWARDS)/$$4.pid"; \
	}; \
	for pair in $(SAGA_PORTS); do \
		name=$${pair%%:*}; port=$${pair##*:}; \
		forward $(NAMESPACE) svc/$(RELEASE)-$$name $$port:$(SERVICE_PORT) $$name; \
	done; \
	if kubectl -n $(OBSERVABILITY_NAMESPACE) get $(JAEGER_SERVICE) >/dev/null 2>&1; then \
		forward $(OBSERVABILITY_NAMESPACE) $(JAEGER_SERVICE) 16686:$(JAEGER_PORT) jaeger; \
	else echo "jaeger: not installed (make observability-up)"; fi; \
	if kubectl -n $(OBSERVABILITY_NAMESPACE) get $(GRAFANA_SERVICE) >/dev/null 2>&1; then \
		forward $(OBSERVABILITY_NAMESPACE) $(GRAFANA_SERVICE) 3000:$(GRAFANA_PORT) grafana; \
	else echo "grafana: not installed (make observability-up)"; fi
	@for pair in $(SAGA_PORTS); do \
		port=$${pair##*:}; \
		for _ in $$(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null && break; sleep 0.1; done; \
		(exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null \
			|| { echo "$${pair%%:*}: port-forward failed, see $(FORWARDS)/$${pair%%:*}.log" >&2; exit 1; }; \
	done
	@echo "Forwarding: http://127.0.0.1:8001/docs ... :8005/docs, Jaeger http://127.0.0.1:16686, Grafana http://127.0.0.1:3000"
	@echo "Stop with: make port-forward-stop"

port-forward-stop: ## Stop the port-forwards that `make port-forward` started
	@$(STOP_FORWARDS)

e2e-kind: install port-forward ## Against the cluster: `helm test`, then the e2e tests marked `cluster` through the port-forwards
	@status=0; \
	helm test $(RELEASE) -n $(NAMESPACE) --logs --timeout 5m || status=$$?; \
	SAGA_E2E_TARGET=urls $(SAGA_URLS) $(RUN) pytest -m cluster tests/e2e || status=$$?; \
	$(SAGA_URLS) $(RUN) sagactl demo || status=$$?; \
	$(STOP_FORWARDS); \
	exit $$status

# `make verify-observability`: the demo writes its booking ids here, the verifier its report.
DEMO_IDS ?= .local/demo-bookings.json
VERIFY_LOG ?= .local/verify-observability.log
VERIFY_TIMEOUT ?= 300
# Grafana's admin password: kube-prometheus-stack generates it into its Grafana Secret.
GRAFANA_SECRET_PASSWORD := kubectl -n $(OBSERVABILITY_NAMESPACE) get secret \
	-l app.kubernetes.io/name=grafana -o jsonpath='{.items[0].data.admin-password}' | base64 -d

.PHONY: verify-observability
verify-observability: install port-forward ## Run the demo, then check its saga shows in Jaeger, Prometheus and Grafana (docs/verify-observability.md)
	@set -o pipefail; status=0; rm -f $(DEMO_IDS); mkdir -p $(dir $(VERIFY_LOG)); \
	password="$${GRAFANA_PASSWORD:-$$($(GRAFANA_SECRET_PASSWORD))}"; \
	$(SAGA_URLS) $(RUN) sagactl demo --ids-file $(DEMO_IDS) || status=$$?; \
	GRAFANA_PASSWORD="$$password" $(RUN) sagactl verify-observability --ids-file $(DEMO_IDS) \
		--timeout $(VERIFY_TIMEOUT) 2>&1 | tee $(VERIFY_LOG) || status=$$?; \
	$(STOP_FORWARDS); \
	exit $$status

kind-down: port-forward-stop ## Delete the kind cluster
	kind delete cluster --name $(KIND_CLUSTER)
