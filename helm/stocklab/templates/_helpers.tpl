{{/* helm create's helpers, kept by name */}}
{{- define "stocklab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stocklab.fullname" -}}
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

{{- define "stocklab.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stocklab.labels" -}}
helm.sh/chart: {{ include "stocklab.chart" . }}
{{ include "stocklab.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stocklab
{{- end }}

{{- define "stocklab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stocklab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* the Secret every pod reads: existingSecret or the chart's own */}}
{{/* the Secret the migration hook Job reads DATABASE_URL from: the existing one, or the hook's own */}}
{{- define "stocklab.migrateSecretName" -}}
{{- if .Values.existingSecret }}{{ .Values.existingSecret }}{{ else }}{{ include "stocklab.fullname" . }}-migrate{{ end }}
{{- end }}

{{- define "stocklab.secretName" -}}
{{- default (printf "%s-secrets" (include "stocklab.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/* the image of a component: backtest-worker runs the backtest image */}}
{{- define "stocklab.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry (trimSuffix "-worker" .name) .root.Values.image.tag }}
{{- end }}

{{- define "stocklab.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "stocklab.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The CA bundle that signs PostgreSQL's certificate (database.caBundle), for every container that
reads DATABASE_URL. node-postgres verifies the server's certificate (sslmode=require and
verify-full alike) with Node's TLS defaults, whose CA list NODE_EXTRA_CA_CERTS extends: Node reads
that file once at start.
*/}}
{{- define "stocklab.databaseCa.enabled" -}}
{{- $ca := .Values.database.caBundle }}
{{- if and $ca.configMap $ca.secret }}{{ fail "database.caBundle: set configMap or secret, not both" }}{{ end }}
{{- if or $ca.configMap $ca.secret }}true{{ end }}
{{- end }}

{{- define "stocklab.databaseCa.dir" -}}
/etc/stocklab/database-ca
{{- end }}

{{- define "stocklab.databaseCa.env" -}}
- name: NODE_EXTRA_CA_CERTS
  value: {{ printf "%s/%s" (include "stocklab.databaseCa.dir" .) .Values.database.caBundle.key | quote }}
{{- end }}

{{- define "stocklab.databaseCa.volumeMount" -}}
- name: database-ca
  mountPath: {{ include "stocklab.databaseCa.dir" . }}
  readOnly: true
{{- end }}

{{- define "stocklab.databaseCa.volume" -}}
- name: database-ca
  {{- if .Values.database.caBundle.configMap }}
  configMap:
    name: {{ .Values.database.caBundle.configMap }}
    items: [{ key: {{ .Values.database.caBundle.key | quote }}, path: {{ .Values.database.caBundle.key | quote }} }]
  {{- else }}
  secret:
    secretName: {{ .Values.database.caBundle.secret }}
    items: [{ key: {{ .Values.database.caBundle.key | quote }}, path: {{ .Values.database.caBundle.key | quote }} }]
  {{- end }}
{{- end }}
