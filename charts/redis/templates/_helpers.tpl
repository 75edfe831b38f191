{{/* Chart name, overridable. */}}
{{- define "redis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object names: <release>-redis, or fullnameOverride. Deliberately without the usual
"release name contains the chart name" shortcut, so a parent chart can compute the
host name (<release>-redis) without knowing this chart's internals.
*/}}
{{- define "redis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "redis.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "redis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "redis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "redis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: broker
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The Secret holding the password: ours, or the one the values name. */}}
{{- define "redis.secretName" -}}
{{- if .Values.auth.existingSecret }}
{{- tpl .Values.auth.existingSecret . }}
{{- else }}
{{- include "redis.fullname" . }}
{{- end }}
{{- end }}

{{- define "redis.secretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}redis-password{{ end }}
{{- end }}

{{/*
maxmemory for redis.conf: .Values.maxmemory as given, else maxmemoryPercent of the
container's memory limit (a Kubernetes quantity: "192Mi", "1G", "268435456") in bytes;
empty without either (Redis then has no limit).
*/}}
{{- define "redis.maxmemory" -}}
{{- $limit := toString ((.Values.resources.limits | default dict).memory | default "") }}
{{- if .Values.maxmemory }}
{{- .Values.maxmemory }}
{{- else if $limit }}
{{- $factors := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $limit }}
{{- $unit := trimPrefix $number $limit }}
{{- if or (not $number) (not (hasKey $factors $unit)) }}
{{- fail (printf "redis: cannot read the memory limit %q; set maxmemory explicitly" $limit) }}
{{- end }}
{{- mulf $number (get $factors $unit) .Values.maxmemoryPercent 0.01 | floor | int64 }}
{{- end }}
{{- end }}

{{/* The probes' command: PING as the default user, or as acl.probeUser (REDISCLI_AUTH). */}}
{{- define "redis.ping" -}}
redis-cli{{ if .Values.acl.existingSecret }} --user {{ .Values.acl.probeUser }}{{ end }} -h 127.0.0.1 ping | grep -q PONG
{{- end }}
