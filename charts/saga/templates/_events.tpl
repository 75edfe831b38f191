{{/*
Events only from those allowed to send them (docs/security.md): the Redis ACL users and
the event signing keys, both derived from the choreography below.

The choreography is a copy of sagakit.choreography (Helm cannot read Python):
tests/charts/test_event_security.py renders this chart and checks that the ACL lines and
the key wiring are exactly what the code generates from its own table.
*/}}
{{- define "saga.choreography" -}}
order: [booking, manager, billing, payment, invoice]
events:
  - CREATED_BOOKING_EVENT
  - APPROVED_BOOKING_EVENT
  - REJECTED_BOOKING_EVENT
  - BILLED_BOOKING_EVENT
  - PAID_BOOKING_EVENT
  - INSUFFICIENT_FUND_EVENT
  - INVOICE_GENERATED_EVENT
  - PAYMENT_EXPIRED_EVENT
services:
  booking:
    publishes: [CREATED_BOOKING_EVENT]
    # booking journals every event of its sagas (the timeline): it hears all eight.
    consumes: [CREATED_BOOKING_EVENT, APPROVED_BOOKING_EVENT, REJECTED_BOOKING_EVENT, BILLED_BOOKING_EVENT, PAID_BOOKING_EVENT, INSUFFICIENT_FUND_EVENT, INVOICE_GENERATED_EVENT, PAYMENT_EXPIRED_EVENT]
  manager:
    publishes: [APPROVED_BOOKING_EVENT, REJECTED_BOOKING_EVENT]
    consumes: [CREATED_BOOKING_EVENT]
  billing:
    publishes: [BILLED_BOOKING_EVENT]
    consumes: [APPROVED_BOOKING_EVENT, PAID_BOOKING_EVENT, INSUFFICIENT_FUND_EVENT, PAYMENT_EXPIRED_EVENT]
  payment:
    publishes: [PAID_BOOKING_EVENT, INSUFFICIENT_FUND_EVENT, PAYMENT_EXPIRED_EVENT]
    consumes: [BILLED_BOOKING_EVENT]
  invoice:
    publishes: [INVOICE_GENERATED_EVENT]
    consumes: [PAID_BOOKING_EVENT]
# Reconcile requests (sagakit.reconcile): booking publishes them, every service hears them.
control:
  channel: saga.reconcile
  owner: booking
{{- end }}

{{/* The producers whose messages a service hears (and the reconcile requests' owner), sorted: dict "root" $ "name" <service>. */}}
{{- define "saga.producersHeard" -}}
{{- $c := include "saga.choreography" .root | fromYaml }}
{{- $owners := dict }}
{{- range $service, $role := $c.services }}
{{- range $event := $role.publishes }}{{ $_ := set $owners $event $service }}{{ end }}
{{- end }}
{{- $heard := list $c.control.owner }}
{{- range $event := (index $c.services .name).consumes }}
{{- $heard = append $heard (get $owners $event) }}
{{- end }}
{{- $heard | uniq | sortAlpha | join " " }}
{{- end }}

{{/* EVENT_PREFIX and DEAD_LETTER_STREAM as every service sees them (config only). */}}
{{- define "saga.eventPrefix" -}}
{{- .Values.config.EVENT_PREFIX | default "" | toString }}
{{- end }}

{{/* A stream or channel name as an ACL pattern that matches only itself. */}}
{{- define "saga.aclPattern" -}}
{{- if regexMatch "[\\s\"'\\x00-\\x1f\\x7f]" . }}
{{- fail (printf "%q: EVENT_PREFIX and DEAD_LETTER_STREAM may not hold spaces or quotes (they go into Redis ACL rules)" .) }}
{{- end }}
{{- regexReplaceAll "([*?\\[\\]\\\\])" . "\\${1}" }}
{{- end }}

{{/*
One ACL user's rules, exactly as sagakit.acl writes them (Redis 7.2+: CLIENT SETINFO).
dict "root" $ "name" <service or operator> "hash" <#sha256>
*/}}
{{- define "saga.aclLine" -}}
{{- $c := include "saga.choreography" .root | fromYaml }}
{{- $prefix := include "saga.eventPrefix" .root }}
{{- $dead := include "saga.aclPattern" (printf "%s%s" $prefix .root.Values.config.DEAD_LETTER_STREAM) }}
{{- $rules := list "user" (printf "%s%s" $prefix .name) "reset" "on" .hash "resetchannels" "+ping" "+client|setinfo" "+xadd" "+publish" }}
{{- if eq .name "operator" }}
{{- $events := list }}
{{- range $event := $c.events }}{{ $events = append $events (include "saga.aclPattern" (printf "%s%s" $prefix $event)) }}{{ end }}
{{- range $events }}{{ $rules = append $rules (printf "%%W~%s" .) }}{{ end }}
{{- range $events }}{{ $rules = append $rules (printf "&%s" .) }}{{ end }}
{{- $rules = append $rules (printf "(+xrange +xlen +xdel ~%s)" $dead) }}
{{- else }}
{{- $role := index $c.services .name }}
{{- $own := list }}
{{- $heard := list }}
{{- range $event := $c.events }}
{{- $name := include "saga.aclPattern" (printf "%s%s" $prefix $event) }}
{{- if has $event $role.publishes }}{{ $own = append $own $name }}{{ end }}
{{- if has $event $role.consumes }}{{ $heard = append $heard $name }}{{ end }}
{{- end }}
{{- $control := include "saga.aclPattern" (printf "%s%s" $prefix $c.control.channel) }}
{{- range (append $own $dead) }}{{ $rules = append $rules (printf "%%W~%s" .) }}{{ end }}
{{- range $own }}{{ $rules = append $rules (printf "&%s" .) }}{{ end }}
{{- if eq .name $c.control.owner }}{{ $rules = append $rules (printf "&%s" $control) }}{{ end }}
{{- $streams := list "+xreadgroup" "+xack" "+xautoclaim" "+xclaim" "+xpending" "+xgroup|create" "+xinfo|groups" "+xinfo|consumers" "+xgroup|delconsumer" }}
{{- range $heard }}{{ $streams = append $streams (printf "~%s" .) }}{{ end }}
{{- $channels := list "+subscribe" "+unsubscribe" }}
{{- range (append $heard $control) }}{{ $channels = append $channels (printf "&%s" .) }}{{ end }}
{{- $rules = append $rules (printf "(%s)" (join " " $streams)) }}
{{- $rules = append $rules (printf "(%s)" (join " " $channels)) }}
{{- $rules = append $rules (printf "(+xlen %%R~%s)" $dead) }}
{{- $rules = append $rules (printf "(+xtrim ~%s)" $dead) }}
{{- end }}
{{- join " " $rules }}
{{- end }}

{{/*
The chart's Redis ACL file: the default user off, `admin` (all commands: the probes and
you), then the five services and the operator. dict "root" $ "admin" <password>
"passwords" <user name -> password>
*/}}
{{- define "saga.aclFile" -}}
{{- $c := include "saga.choreography" .root | fromYaml }}
user default reset
user admin on #{{ sha256sum .admin }} ~* &* +@all
{{- range $name := append $c.order "operator" }}
{{ include "saga.aclLine" (dict "root" $.root "name" $name "hash" (printf "#%s" (sha256sum (get $.passwords $name)))) }}
{{- end }}
{{- end }}

{{/* The Secret with the event keys: eventKeys.existingSecret, global.credentialsSecret, or the chart's. */}}
{{- define "saga.eventKeysSecret" -}}
{{- .Values.eventKeys.existingSecret | default (.Values.global.credentialsSecret | default (printf "%s-event-keys" .Release.Name)) }}
{{- end }}

{{/* The Secret with the services' Redis users' URLs: redisUsers.existingSecret, global.credentialsSecret, or the chart's credentials. */}}
{{- define "saga.redisUsersSecret" -}}
{{- .Values.redisUsers.existingSecret | default (.Values.global.credentialsSecret | default (include "saga.credentialsSecret" .)) }}
{{- end }}

{{/*
One service's signing key and its public key entry: given in values, kept from the Secret
in the cluster, or new. The public key travels in a self-signed certificate: Helm can
make one from a private key but cannot write the bare public key (docs/security.md).
dict "root" $ "name" <service> "existing" <Secret data> -> YAML {signing, entry}
*/}}
{{- define "saga.eventKey" -}}
{{- $given := index .root.Values.eventKeys.given .name | default dict }}
{{- $signingKey := printf "%s-event-signing-key" .name }}
{{- $entryKey := printf "%s-event-verify-key" .name }}
{{- if $given.signingKey }}
signing: {{ $given.signingKey | quote }}
entry: {{ printf "%s:%s:%s" .name (splitList ":" $given.signingKey | first) $given.verifyKey | quote }}
{{- else if and (hasKey .existing $signingKey) (hasKey .existing $entryKey) }}
signing: {{ index .existing $signingKey | b64dec | quote }}
entry: {{ index .existing $entryKey | b64dec | quote }}
{{- else }}
{{- $pem := genPrivateKey "ed25519" }}
{{- $kid := printf "%s-%s" .name (randAlphaNum 8 | lower) }}
{{- $certificate := genSelfSignedCertWithKey .name nil nil 36500 $pem }}
signing: {{ printf "%s:%s" $kid (regexReplaceAll "-----[A-Z ]+-----|\\s" $pem "") | quote }}
entry: {{ printf "%s:%s:%s" .name $kid (regexReplaceAll "-----[A-Z ]+-----|\\s" $certificate.Cert "") | quote }}
{{- end }}
{{- end }}

{{/* Refuse event settings the ACLs and keys cannot follow. */}}
{{- define "saga.validateEvents" -}}
{{- range $name, $svc := .Values.services }}
{{- range $key := list "EVENT_PREFIX" "DEAD_LETTER_STREAM" }}
{{- if hasKey ((($svc | default dict).config) | default dict) $key }}
{{- fail (printf "services.%s.config.%s: set %s in config, for every service at once (the Redis ACLs are made from it)" $name $key $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $users := .Values.redisUsers.existingSecret }}
{{- if and .Values.redis.enabled $users }}
{{- if or (ne (tpl .Values.redis.acl.existingSecret .) $users) (ne (tpl .Values.redis.auth.existingSecret .) $users) }}
{{- fail (printf "redisUsers.existingSecret is %q: set redis.acl.existingSecret and redis.auth.existingSecret to it too, so Redis loads the users whose URLs the services get" $users) }}
{{- end }}
{{- end }}
{{- end }}
