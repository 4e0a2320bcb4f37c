{{- define "service.labels" -}}
{{ include "service.selector" . }}
{{- /* A label value: at most 63 characters (a commit SHA is 40). */}}
app.kubernetes.io/version: {{ .Values.image.tag | toString | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
plinth.dev/environment: {{ .Values.environment | quote }}
{{- end -}}

{{- /* Immutable on a Deployment: only labels that never change for the release. */}}
{{- define "service.selector" -}}
app.kubernetes.io/name: {{ .Values.app | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- /* Replicas the app keeps at least: the HPA's floor when it scales, else the fixed count. */}}
{{- define "service.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}{{ .Values.autoscaling.minReplicas }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}
