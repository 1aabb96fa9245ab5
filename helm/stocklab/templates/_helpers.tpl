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
