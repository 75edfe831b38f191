{{/* The chart's name, overridable. */}}
{{- define "saga.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: <release>-saga, or just <release> when it already says saga. */}}
{{- define "saga.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "saga.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The five services' one image tag. */}}
{{- define "saga.tag" -}}
{{- .Values.global.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
Labels of every object: dict "root" $ "name" <app.kubernetes.io/name> "component" <role>.
The five services are named after themselves with component "service"; the rest of the
chart's objects are named "saga".
*/}}
{{- define "saga.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "saga.selectorLabels" . }}
app.kubernetes.io/version: {{ include "saga.tag" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: saga
{{- end }}

{{/* The migration Jobs' pods, all together (migrations.job). */}}
{{- define "saga.migrationsSelector" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: saga
app.kubernetes.io/component: migration
{{- end }}

{{/* What selects one service's pods: its name and the release. */}}
{{- define "saga.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The five services' pods, all together (for the Postgres, Redis and monitor selectors). */}}
{{- define "saga.servicesSelector" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: saga
app.kubernetes.io/component: service
{{- end }}

{{/*
One service's settings: `defaults` overridden by `services.<name>`, maps merged one level
deep. Written into the dict passed as "out" (a template can only return text, and a
YAML round trip would turn 1000000 into 1e+06). Unlike sprig's merge functions, an
explicit false, 0 or "" in services.<name> wins over the default.
*/}}
{{- define "saga.component" -}}
{{- $over := index .root.Values.services .name | default dict }}
{{- range $key, $value := .root.Values.defaults }}
{{- $_ := set $.out $key $value }}
{{- end }}
{{- range $key, $value := $over }}
{{- $base := get $.out $key }}
{{- if and (kindIs "map" $value) (kindIs "map" $base) }}
{{- $merged := deepCopy $base }}
{{- range $k, $v := $value }}
{{- $_ := set $merged $k $v }}
{{- end }}
{{- $_ := set $.out $key $merged }}
{{- else }}
{{- $_ := set $.out $key $value }}
{{- end }}
{{- end }}
{{- end }}

{{/* Image of a service, with its digest when global.image.digests has one: dict "root" $ "name" <service>. */}}
{{- define "saga.image" -}}
{{- $image := .root.Values.global.image }}
{{- if $image.registry }}{{ trimSuffix "/" $image.registry }}/{{ end }}{{ $image.prefix }}{{ .name }}:{{ include "saga.tag" .root }}
{{- with index ($image.digests | default dict) .name }}@{{ . }}{{ end }}
{{- end }}

{{/* A setting as an environment variable's text: strings as they are, numbers without
exponent (Helm reads every number as a float), booleans as true/false. */}}
{{- define "saga.envValue" -}}
{{- if kindIs "string" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{/*
The Secret this chart writes: the Postgres roles' and Redis' passwords (which the
subcharts read too) and the URLs the services connect with. Named after the release
alone so the subcharts' values can name it ('{{ .Release.Name }}-credentials').
*/}}
{{- define "saga.credentialsSecret" -}}
{{- printf "%s-credentials" .Release.Name }}
{{- end }}

{{/* Where the passwords of the chart's own Postgres and Redis are: yours, else the chart's. */}}
{{- define "saga.passwordsSecret" -}}
{{- .Values.global.credentialsSecret | default (include "saga.credentialsSecret" .) }}
{{- end }}

{{/* Host names of the subcharts' Services (their fullname rule: <release>-<chart>). */}}
{{- define "saga.postgresHost" -}}
{{- .Values.postgres.fullnameOverride | default (printf "%s-postgres" .Release.Name) }}
{{- end }}

{{- define "saga.redisHost" -}}
{{- .Values.redis.fullnameOverride | default (printf "%s-redis" .Release.Name) }}
{{- end }}

{{/* Where a service's DATABASE_URL is: dict "root" $ "name" <service> -> secretKeyRef. */}}
{{- define "saga.databaseUrlRef" -}}
{{- $external := .root.Values.externalDatabase }}
{{- if and (not .root.Values.postgres.enabled) $external.existingSecret }}
name: {{ $external.existingSecret }}
key: {{ index $external.existingSecretKeys .name }}
{{- else }}
name: {{ include "saga.credentialsSecret" .root }}
key: {{ .name }}-database-url
{{- end }}
{{- end }}

{{/*
Where a service's REDIS_URL is -> secretKeyRef: its own Redis user's with the chart's
Redis; with your own, externalRedis' (per service if existingSecretKeys names it).
dict "root" $ "name" <service>
*/}}
{{- define "saga.redisUrlRef" -}}
{{- $external := .root.Values.externalRedis }}
{{- if .root.Values.redis.enabled }}
name: {{ include "saga.redisUsersSecret" .root }}
key: {{ .name }}-redis-url
{{- else if $external.existingSecret }}
name: {{ $external.existingSecret }}
key: {{ index ($external.existingSecretKeys | default dict) .name | default $external.existingSecretKey }}
{{- else }}
name: {{ include "saga.credentialsSecret" .root }}
key: redis-url
{{- end }}
{{- end }}

{{/*
A password of the chart's own servers: the value given, else the one already in the
cluster (so upgrades keep it), else a new random one.
dict "given" <value> "existing" <Secret data> "key" <key>
*/}}
{{- define "saga.password" -}}
{{- if .given }}
{{- .given }}
{{- else if hasKey .existing .key }}
{{- index .existing .key | b64dec }}
{{- else }}
{{- randAlphaNum 24 }}
{{- end }}
{{- end }}

{{/* Refuse contradictory or incomplete database/Redis settings, with a message that says what to set. */}}
{{- define "saga.validate" -}}
{{- $db := .Values.externalDatabase }}
{{- if .Values.postgres.enabled }}
{{- if or $db.urls $db.existingSecret }}
{{- fail "externalDatabase is set but postgres.enabled is true: set postgres.enabled=false to use your own Postgres" }}
{{- end }}
{{- else if not $db.existingSecret }}
{{- range $name, $_ := .Values.services }}
{{- if not (index $db.urls $name) }}
{{- fail (printf "postgres.enabled is false: set externalDatabase.urls.%s or externalDatabase.existingSecret" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- include "saga.validateMigrations" . }}
{{- include "saga.validateCredentials" . }}
{{- include "saga.validateIngress" . }}
{{- include "saga.validateAuth" . }}
{{- $redis := .Values.externalRedis }}
{{- if .Values.redis.enabled }}
{{- if or $redis.url $redis.existingSecret }}
{{- fail "externalRedis is set but redis.enabled is true: set redis.enabled=false to use your own Redis" }}
{{- end }}
{{- else if not (or $redis.url $redis.existingSecret) }}
{{- fail "redis.enabled is false: set externalRedis.url or externalRedis.existingSecret" }}
{{- end }}
{{- include "saga.validateEvents" . }}
{{- end }}

{{/*
A service's settings: `config` overridden by services.<name>.config, written into "out".
dict "root" $ "settings" <saga.component result> "out" <dict>
*/}}
{{- define "saga.config" -}}
{{- range $key, $value := .root.Values.config }}
{{- $_ := set $.out $key $value }}
{{- end }}
{{- range $key, $value := .settings.config }}
{{- $_ := set $.out $key $value }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the preStop sleep, the service's own shutdown timeouts (the
values its ConfigMap gets) and a margin, rounded up.
dict "root" $ "settings" <saga.component result>
*/}}
{{- define "saga.terminationGrace" -}}
{{- $config := dict }}
{{- include "saga.config" (dict "root" .root "settings" .settings "out" $config) }}
{{- $drain := addf $config.SHUTDOWN_HTTP_SECONDS $config.SHUTDOWN_CONSUMERS_SECONDS $config.SHUTDOWN_RELAY_SECONDS }}
{{- addf .settings.shutdown.preStopSeconds $drain .settings.shutdown.extraGraceSeconds | ceil | int }}
{{- end }}

{{/*
The startupProbe's failureThreshold at periodSeconds 2: the Redis wait (a service retries
that long before it fails) plus 30 s for the interpreter to start and the schema check.
dict "root" $ "settings" <saga.component result>
*/}}
{{- define "saga.startupFailureThreshold" -}}
{{- $config := dict }}
{{- include "saga.config" (dict "root" .root "settings" .settings "out" $config) }}
{{- divf (addf $config.REDIS_WAIT_SECONDS 30) 2 | ceil | int }}
{{- end }}

{{/*
A service's ConfigMap data, sorted: `config` overridden by services.<name>.config, then
the OTEL_* wiring. dict "root" $ "name" <service> "settings" <saga.component result>
*/}}
{{- define "saga.configData" -}}
{{- $config := dict }}
{{- include "saga.config" (dict "root" .root "settings" .settings "out" $config) }}
{{- $_ := set $config "ALLOWED_HOSTS" (include "saga.allowedHosts" .) }}
{{- range $key := keys $config | sortAlpha }}
{{ $key }}: {{ include "saga.envValue" (get $config $key) | quote }}
{{- end }}
{{ include "saga.authConfig" .root }}
OTEL_SERVICE_NAME: {{ .name | quote }}
{{- with .root.Values.otel.endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
OTEL_EXPORTER_OTLP_PROTOCOL: {{ .root.Values.otel.protocol | quote }}
{{- end }}

{{/*
The environment every container of a service shares (the server and its migrations).
dict "root" $ "name" <service>
*/}}
{{- define "saga.env" -}}
- name: HOST
  value: 0.0.0.0
- name: PORT
  value: "8000"
# The downward API: the pod's own name and namespace.
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_NAMESPACE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
# One stream consumer per replica, named after the pod: if it dies, another
# replica claims the messages it had not acknowledged.
- name: CONSUMER_NAME
  value: $(K8S_POD_NAME)
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "saga.resourceAttributes" . | quote }}
{{- $yours := .root.Values.global.credentialsSecret }}
{{- if and .root.Values.postgres.enabled $yours }}
# Your Secret holds the password only; the kubelet writes it into the URL.
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $yours }}
      key: {{ .name }}-password
- name: DATABASE_URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s:5432/%s" .name (include "saga.postgresHost" .root) .name | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- include "saga.databaseUrlRef" . | trim | nindent 6 }}
{{- end }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- include "saga.redisUrlRef" . | trim | nindent 6 }}
# Signed events (docs/security.md): its own private key, its producers' public keys.
- name: EVENT_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "saga.eventKeysSecret" .root }}
      key: {{ .name }}-event-signing-key
- name: EVENT_VERIFY_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "saga.eventKeysSecret" .root }}
      key: {{ .name }}-event-verify-keys
{{- end }}

{{/* The CA of your servers (tls.caSecret), mounted where the URLs name it. */}}
{{- define "saga.caMount" -}}
{{- if .Values.tls.caSecret }}
- name: server-ca
  mountPath: /etc/saga/tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "saga.caVolume" -}}
{{- if .Values.tls.caSecret }}
- name: server-ca
  secret:
    secretName: {{ .Values.tls.caSecret }}
    items:
      - key: {{ .Values.tls.caKey }}
        path: ca.crt
{{- end }}
{{- end }}

{{/* OTEL_RESOURCE_ATTRIBUTES: where the spans come from, then the values' extras. */}}
{{- define "saga.resourceAttributes" -}}
{{- $attributes := list "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" "k8s.pod.name=$(K8S_POD_NAME)" "service.namespace=saga" (printf "service.version=%s" (include "saga.tag" .root)) }}
{{- range $key, $value := .root.Values.otel.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key (include "saga.envValue" $value)) }}
{{- end }}
{{- join "," $attributes }}
{{- end }}

{{/* The restricted Pod Security Standard, for every pod and every container of the chart. */}}
{{- define "saga.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "saga.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
readOnlyRootFilesystem: true
{{- end }}

{{/* Migrations run either in init containers or in hook Jobs, never both. */}}
{{- define "saga.validateMigrations" -}}
{{- $job := .Values.migrations.job }}
{{- if $job.enabled }}
{{- if le (int $job.activeDeadlineSeconds) (int $job.waitSeconds) }}
{{- fail "migrations.job.activeDeadlineSeconds must exceed migrations.job.waitSeconds, or the Job stops while still waiting for Postgres" }}
{{- end }}
{{- range $name := keys .Values.services | sortAlpha }}
{{- $svc := dict }}
{{- include "saga.component" (dict "root" $ "name" $name "out" $svc) }}
{{- if and $svc.enabled $svc.migrate.enabled }}
{{- fail (printf "migrations.job.enabled is true but %s still migrates in an init container: set defaults.migrate.enabled=false (and services.%s.migrate.enabled)" $name $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Egress to the services' Postgres on 5432: the chart's own pod, or the addresses in
networkPolicy.externalDatabase (empty: any address, that port only).
*/}}
{{- define "saga.postgresEgress" -}}
{{- if .Values.postgres.enabled }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: postgres
          app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - protocol: TCP
      port: 5432
{{- else }}
- ports:
    - protocol: TCP
      port: 5432
  {{- with .Values.networkPolicy.externalDatabase }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
ALLOWED_HOSTS of a service (trustedHosts): its Service's DNS names, ingress.host when the
Ingress routes to it, and trustedHosts.extra; `*` when trustedHosts is off.
dict "root" $ "name" <service>
*/}}
{{- define "saga.allowedHosts" -}}
{{- $trusted := .root.Values.trustedHosts }}
{{- if $trusted.enabled }}
{{- $service := printf "%s-%s" (include "saga.fullname" .root) .name }}
{{- $namespaced := printf "%s.%s" $service .root.Release.Namespace }}
{{- $hosts := list $service $namespaced (printf "%s.svc" $namespaced) (printf "%s.svc.%s" $namespaced $trusted.clusterDomain) }}
{{- $ingress := .root.Values.ingress }}
{{- if and $ingress.enabled (index $ingress.routes .name) }}
{{- $hosts = append $hosts $ingress.host }}
{{- end }}
{{- join "," (concat $hosts $trusted.extra | uniq) }}
{{- else }}*
{{- end }}
{{- end }}

{{/* global.credentialsSecret replaces the passwords of `auth`: refuse both at once. */}}
{{- define "saga.validateCredentials" -}}
{{- if .Values.global.credentialsSecret }}
{{- $given := .Values.auth.redisPassword }}
{{- range $_, $password := .Values.auth.databasePasswords }}
{{- $given = print $given $password }}
{{- end }}
{{- if $given }}
{{- fail "global.credentialsSecret is set: leave auth.databasePasswords and auth.redisPassword empty (the passwords come from that Secret)" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The Ingress exposes customer routes only: a host, and no path that is, or leads to, the
probes, /metrics or the docs (a prefix `/` would).
*/}}
{{- define "saga.validateIngress" -}}
{{- $ingress := .Values.ingress }}
{{- if $ingress.enabled }}
{{- if not $ingress.host }}
{{- fail "ingress.enabled is true: set ingress.host (the public host name)" }}
{{- end }}
{{- $internal := list "healthz" "readyz" "metrics" "docs" "redoc" "openapi.json" "asyncapi" "asyncapi.json" }}
{{- range $name, $paths := $ingress.routes }}
{{- range $path := $paths }}
{{- $first := trimPrefix "/" $path | splitList "/" | first }}
{{- if or (eq $path "/") (has $first $internal) }}
{{- fail (printf "ingress.routes.%s: %s would expose /%s, which stays inside the cluster (probes, metrics, docs)" $name $path (default "" $first)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
