{{/* Chart name, overridable. */}}
{{- define "postgres.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object names: <release>-postgres, or fullnameOverride. Deliberately without the usual
"release name contains the chart name" shortcut, so a parent chart can compute the
host name (<release>-postgres) without knowing this chart's internals.
*/}}
{{- define "postgres.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "postgres.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "postgres.selectorLabels" -}}
app.kubernetes.io/name: {{ include "postgres.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "postgres.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "postgres.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: database
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
auth.existingSecret, evaluated as a template (a parent chart may pass one that comes out
empty, e.g. '{{ .Values.global.credentialsSecret }}': then this chart keeps its own).
*/}}
{{- define "postgres.existingSecret" -}}
{{- tpl .Values.auth.existingSecret . }}
{{- end }}

{{/* The Secret holding the superuser password: ours, or the one the values name. */}}
{{- define "postgres.secretName" -}}
{{- include "postgres.existingSecret" . | default (include "postgres.fullname" .) }}
{{- end }}

{{- define "postgres.secretKey" -}}
{{- if include "postgres.existingSecret" . }}{{ .Values.auth.existingSecretKey }}{{ else }}postgres-password{{ end }}
{{- end }}

{{/* The environment variable carrying one database role's password. */}}
{{- define "postgres.passwordEnv" -}}
DATABASE_PASSWORD_{{ . | upper | replace "-" "_" }}
{{- end }}

{{/* A server setting's text: strings as they are, numbers without exponent (Helm reads
every number as a float: 1000000 would print as 1e+06), booleans as true/false. */}}
{{- define "postgres.settingValue" -}}
{{- if kindIs "string" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}
