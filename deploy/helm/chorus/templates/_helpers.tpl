{{/* Chart name, cut to 63 characters: Kubernetes label values are limited to that. */}}
{{- define "chorus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full resource name; "<release>" alone when the release name already holds the chart name. */}}
{{- define "chorus.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The headless Service the replicas find each other on; short enough for a DNS label. */}}
{{- define "chorus.headlessName" -}}
{{- printf "%s-headless" (include "chorus.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{- define "chorus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels. The component label keeps the helm test pod out of the Services and the PDB. */}}
{{- define "chorus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "chorus.labels" -}}
helm.sh/chart: {{ include "chorus.chart" . }}
{{ include "chorus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chorus
{{- end }}

{{- define "chorus.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The most replicas that may run at once: CHORUS_MAX_INSTANCES, and what the checks below reason about. */}}
{{- define "chorus.maxInstances" -}}
{{- if .Values.autoscaling.enabled }}
{{- .Values.autoscaling.maxReplicas | int }}
{{- else }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}

{{- define "chorus.networked" -}}
{{- if ne .Values.backplane.type "inprocess" }}true{{ end }}
{{- end }}

{{/* Container securityContext shared by the server and the helm test pod (image user 10001). */}}
{{- define "chorus.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "chorus.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Refuses, at render time, every configuration that would start replicas that cannot work together.
Each check yields one message naming the value and the fix; all of them are collected and reported by one
fail, so an operator fixes a broken values file in one round trip (the pattern of Bitnami's charts).
*/}}
{{- define "chorus.validateValues" -}}
{{- $messages := list -}}
{{- $messages = append $messages (include "chorus.validateValues.inprocess" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.redis" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.database" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.signingKey" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.clusterSecret" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.autoscaling" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.grace" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.serviceMonitor" .) -}}
{{- $messages = append $messages (include "chorus.validateValues.extraEnv" .) -}}
{{- $messages = without $messages "" -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.inprocess" -}}
{{- $max := include "chorus.maxInstances" . | int -}}
{{- if and (eq .Values.backplane.type "inprocess") (gt $max 1) -}}
{{- if .Values.autoscaling.enabled -}}
chorus: autoscaling.maxReplicas={{ $max }} needs a networked backplane: backplane.type=inprocess keeps caches, events and sessions inside one pod. Set backplane.type=postgres (or redis, jgroups), or autoscaling.enabled=false with replicaCount=1.
{{- else -}}
chorus: replicaCount={{ $max }} needs a networked backplane: backplane.type=inprocess keeps caches, events and sessions inside one pod. Set backplane.type=postgres (or redis, jgroups), or replicaCount=1.
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.redis" -}}
{{- if and (eq .Values.backplane.type "redis") (not .Values.redis.url) (not .Values.redis.existingSecret) -}}
chorus: redis.url or redis.existingSecret must be set when backplane.type=redis: kubectl create secret generic chorus-redis --from-literal=url=redis://:PASSWORD@redis:6379/0 and set redis.existingSecret=chorus-redis.
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.database" -}}
{{- if and (include "chorus.networked" .) (not .Values.database.existingSecret) -}}
{{- $why := "resources, membership and webhook destinations live in PostgreSQL" -}}
{{- if eq .Values.backplane.type "jgroups" -}}
{{- $why = "the mesh keeps no fenced leases, so session leases and membership live in PostgreSQL" -}}
{{- end -}}
chorus: database.existingSecret must be set when backplane.type={{ .Values.backplane.type }} ({{ $why }}): kubectl create secret generic chorus-database --from-literal=url=postgres://chorus:PASSWORD@db:5432/chorus and set database.existingSecret=chorus-database.
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.signingKey" -}}
{{- $max := include "chorus.maxInstances" . | int -}}
{{- if and (gt $max 1) (not .Values.security.signingKey.existingSecret) -}}
chorus: security.signingKey.existingSecret must be set when {{ if .Values.autoscaling.enabled }}autoscaling.maxReplicas{{ else }}replicaCount{{ end }}={{ $max }} > 1 (each replica would sign tokens with its own generated key, which the others refuse): openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out private-key.pem && kubectl create secret generic chorus-signing-key --from-file=private-key.pem and set security.signingKey.existingSecret=chorus-signing-key.
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.clusterSecret" -}}
{{- if and (include "chorus.networked" .) (not .Values.security.clusterSecret.existingSecret) (not .Values.security.allowUnsigned) -}}
chorus: security.clusterSecret.existingSecret must be set when backplane.type={{ .Values.backplane.type }} (replicas sign every message between them): kubectl create secret generic chorus-cluster --from-literal=cluster-secret="$(openssl rand -base64 32)" and set security.clusterSecret.existingSecret=chorus-cluster, or set security.allowUnsigned=true to accept unsigned messages (trials only).
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.autoscaling" -}}
{{- if and .Values.autoscaling.enabled (gt (.Values.autoscaling.minReplicas | int) (.Values.autoscaling.maxReplicas | int)) -}}
chorus: autoscaling.minReplicas={{ .Values.autoscaling.minReplicas }} is above autoscaling.maxReplicas={{ .Values.autoscaling.maxReplicas }}: set autoscaling.minReplicas <= autoscaling.maxReplicas.
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.grace" -}}
{{- $d := .Values.drain -}}
{{- $needed := add $d.preStopSeconds $d.delaySeconds $d.closeSeconds -}}
{{- if le ($d.terminationGracePeriodSeconds | int) ($needed | int) -}}
chorus: drain.terminationGracePeriodSeconds={{ $d.terminationGracePeriodSeconds }} must exceed drain.preStopSeconds + drain.delaySeconds + drain.closeSeconds = {{ $needed }}, or the kubelet kills replicas mid-drain: set drain.terminationGracePeriodSeconds={{ add $needed 15 }}.
{{- end -}}
{{- end -}}

{{- define "chorus.validateValues.serviceMonitor" -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.management.enabled) -}}
chorus: metrics.serviceMonitor.enabled=true needs management.enabled=true: /metrics on the HTTP port needs an operator token, the management port serves it without one.
{{- end -}}
{{- end -}}

{{- /*
The environment the chart sets from its values; extraEnv comes after it. A template of its own so that
validateValues can refuse an extraEnv entry that repeats one of these.
*/}}
{{- define "chorus.env" -}}
- name: PORT
  value: "8080"
- name: CHORUS_REPLICA_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: CHORUS_MAX_INSTANCES
  value: {{ include "chorus.maxInstances" . | quote }}
- name: CHORUS_DRAIN_DELAY
  value: {{ printf "%ds" (.Values.drain.delaySeconds | int) | quote }}
{{- if include "chorus.networked" . }}
- name: CHORUS_BACKPLANE
  value: {{ .Values.backplane.type | quote }}
{{- end }}
{{- with .Values.backplane.channel }}
- name: CHORUS_CHANNEL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.database.existingSecret }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.database.urlKey }}
{{- end }}
{{- if eq .Values.backplane.type "redis" }}
{{- if .Values.redis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.urlKey }}
{{- else }}
- name: REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- end }}
{{- if eq .Values.backplane.type "jgroups" }}
- name: CLUSTER_DISCOVERY
  value: dns
- name: CLUSTER_DNS_QUERY
  value: {{ printf "%s.%s.svc.%s" (include "chorus.headlessName" .) .Release.Namespace .Values.clusterDomain | quote }}
- name: CLUSTER_PORT
  value: {{ .Values.jgroups.port | quote }}
- name: CLUSTER_BIND_ADDRESS
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}
{{- with .Values.security.clusterSecret.existingSecret }}
- name: CHORUS_CLUSTER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.security.clusterSecret.key }}
{{- end }}
{{- if .Values.security.allowUnsigned }}
- name: CHORUS_ALLOW_UNSIGNED
  value: "true"
{{- end }}
{{- if .Values.security.signingKey.existingSecret }}
- name: CHORUS_JWT_PRIVATE_KEY_FILE
  value: /etc/chorus/signing/private-key.pem
{{- end }}
{{- if .Values.security.clients.existingSecret }}
- name: CHORUS_CLIENTS_FILE
  value: /etc/chorus/clients/clients.json
{{- end }}
{{- if .Values.management.enabled }}
- name: CHORUS_MANAGEMENT_PORT
  value: {{ .Values.management.port | quote }}
# The pod IP only: the NetworkPolicy admits this port from the monitoring namespace alone.
- name: CHORUS_MANAGEMENT_HOST
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}
- name: CHORUS_LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
{{- with .Values.logging.level }}
- name: CHORUS_LOG_LEVEL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.javaToolOptions }}
- name: JAVA_TOOL_OPTIONS
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "chorus.validateValues.extraEnv" -}}
{{- $managed := list -}}
{{- range (include "chorus.env" . | fromYamlArray) -}}
{{- $managed = append $managed .name -}}
{{- end -}}
{{- $clash := list -}}
{{- range .Values.extraEnv -}}
{{- if has .name $managed -}}
{{- $clash = append $clash .name -}}
{{- end -}}
{{- end -}}
{{- if $clash -}}
chorus: extraEnv repeats {{ join ", " $clash }}, which the chart sets from its own values (two entries of one name: Kubernetes keeps the last, and the chart's checks no longer see it). Set the chart's value instead, for example drain.delaySeconds for CHORUS_DRAIN_DELAY.
{{- end -}}
{{- end -}}
