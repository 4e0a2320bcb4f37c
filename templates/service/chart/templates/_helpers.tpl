{{- define "service.labels" -}}
app.kubernetes.io/name: {{ .Values.app }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
plinth.dev/environment: {{ .Values.environment }}
{{- end -}}

{{- define "service.selector" -}}
app.kubernetes.io/name: {{ .Values.app }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Replicas the app keeps at least: the HPA's floor when it scales, else the fixed count. */}}
{{- define "service.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}{{ .Values.autoscaling.minReplicas }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}
