{{- /*
Who may call the APIs (values `auth`, docs/security.md): the AUTH_* settings of the five
services, the checks that refuse an unsafe or incomplete setup, and where the dev key
(auth.mode=dev) lives and is mounted.
*/}}
{{/* Dev mode only when confirmed (auth.dev.allowed), oidc only with an issuer. */}}
{{- define "saga.validateAuth" -}}
{{- $auth := .Values.auth }}
{{- if eq $auth.mode "dev" }}
{{- if not $auth.dev.allowed }}
{{- fail "auth.mode=dev signs tokens with a key kept in the cluster: whoever reads it can act as anyone. Set auth.dev.allowed=true as well, only for a cluster nobody else can reach (values/kind.yaml does), or use auth.mode=oidc with auth.issuer (docs/security.md)" }}
{{- end }}
{{- else if not $auth.issuer }}
{{- fail "auth.issuer is required with auth.mode=oidc (the default): set it to your OIDC issuer's URL, e.g. --set auth.issuer=https://keycloak.example.com/realms/saga (docs/security.md, \"On Kubernetes: the issuer\"). For a cluster only you can reach: auth.mode=dev and auth.dev.allowed=true (values/kind.yaml)" }}
{{- end }}
{{- end }}

{{/* The AUTH_* settings of every service (ConfigMap lines). */}}
{{- define "saga.authConfig" -}}
{{- $auth := .Values.auth }}
{{- $dev := eq $auth.mode "dev" }}
AUTH_AUDIENCE: {{ $auth.audience | quote }}
AUTH_DEV_KEY_FILE: {{ ternary (printf "%s/dev-signing-key.pem" (include "saga.devAuthDir" .)) "" $dev | quote }}
AUTH_ISSUER: {{ ternary "urn:saga:dev" $auth.issuer $dev | quote }}
AUTH_JWKS_URL: {{ ternary "" $auth.jwksUrl $dev | quote }}
AUTH_MODE: {{ $auth.mode | quote }}
AUTH_ROLES_CLAIM: {{ $auth.rolesClaim | quote }}
{{- end }}

{{/* Where the dev key is mounted (auth.mode=dev), read-only. */}}
{{- define "saga.devAuthDir" -}}
/var/run/saga/auth
{{- end }}

{{/* The Secret holding the dev key: yours (auth.dev.existingSecret, else
global.credentialsSecret under dev-signing-key.pem) or the chart's. */}}
{{- define "saga.devAuthSecret" -}}
{{- .Values.auth.dev.existingSecret | default (.Values.global.credentialsSecret | default (printf "%s-dev-auth" (include "saga.fullname" .))) }}
{{- end }}

{{/* The dev key's entry in that Secret. */}}
{{- define "saga.devAuthKey" -}}
{{- if .Values.auth.dev.existingSecret }}{{ .Values.auth.dev.existingSecretKey }}{{ else }}dev-signing-key.pem{{ end }}
{{- end }}

{{/* The dev key's volume (auth.mode=dev): one file, readable by the pod's group only. */}}
{{- define "saga.devAuthVolume" -}}
- name: auth-dev-key
  secret:
    secretName: {{ include "saga.devAuthSecret" . }}
    # 0440: the owner (root) and the pod's fsGroup read it; nobody writes it.
    defaultMode: 288
    items:
      - key: {{ include "saga.devAuthKey" . }}
        path: dev-signing-key.pem
{{- end }}

{{- define "saga.devAuthMount" -}}
- name: auth-dev-key
  mountPath: {{ include "saga.devAuthDir" . }}
  readOnly: true
{{- end }}
