{{/* Names and labels, the usual Helm way (names cut to the 63 characters DNS labels allow). */}}
{{- define "dropbox-streamer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dropbox-streamer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "dropbox-streamer.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "dropbox-streamer.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "dropbox-streamer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dropbox-streamer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dropbox-streamer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dropbox-streamer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dropbox-streamer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dropbox-streamer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods mount: the user's, or the chart's own. */}}
{{- define "dropbox-streamer.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else }}
{{- include "dropbox-streamer.fullname" . }}
{{- end }}
{{- end }}

{{- define "dropbox-streamer.secretDir" -}}
/var/run/secrets/dropbox-streamer
{{- end }}

{{/*
Whole numbers of a table, at any depth, made integers in place: Helm reads every number of the
values as a float, and toToml would write `port = 9464.0`.
*/}}
{{- define "dropbox-streamer.wholeNumbers" -}}
{{- $table := . }}
{{- range $key, $value := $table }}
{{- if kindIs "map" $value }}
{{- include "dropbox-streamer.wholeNumbers" $value }}
{{- else if and (kindIs "float64" $value) (eq $value (floor $value)) }}
{{- $_ := set $table $key (int64 $value) }}
{{- end }}
{{- end }}
{{- end }}
