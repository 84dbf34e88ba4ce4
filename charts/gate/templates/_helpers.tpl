{{/* Names, labels and the values-derived settings several templates share. */}}

{{- define "gate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "gate.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "gate.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "gate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gate
{{- end }}

{{- define "gate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given (a tag can move), else repository:tag. */}}
{{- define "gate.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{- define "gate.image" -}}
{{- if has .Values.image.repository (list "gate" "docker.io/library/gate" "library/gate") }}
{{- fail "image.repository is the chart's default, which names no published image: build gate's image from the repository's Dockerfile, push it to your registry and set image.repository (and image.digest) to it (docs/install.md)" }}
{{- end }}
{{- $image := dict "repository" .Values.image.repository "digest" .Values.image.digest "tag" (default .Chart.AppVersion .Values.image.tag) }}
{{- include "gate.imageRef" $image }}
{{- end }}

{{- define "gate.opaImage" -}}
{{- $opa := .Values.opa.sidecar.image }}
{{- if not $opa.digest }}
{{- fail "opa.sidecar.image.digest is required when opa.sidecar.enabled is true: the sidecar decides admission and must be pinned (set it to the sha256 digest of the openpolicyagent/opa tag you run)" }}
{{- end }}
{{- include "gate.imageRef" $opa }}
{{- end }}

{{- define "gate.tlsSecretName" -}}
{{- printf "%s-tls" (include "gate.fullname" .) }}
{{- end }}

{{- define "gate.eventsSecretName" -}}
{{- default (printf "%s-events" (include "gate.fullname" .)) .Values.events.existingSecret }}
{{- end }}

{{/* DNS names the serving certificate must cover: every Service that fronts gate's 8443, plus
tls.extraDnsNames (e.g. the events Service's load balancer name for a registry outside the cluster). */}}
{{- define "gate.dnsNames" -}}
{{- $names := list }}
{{- $ns := .Release.Namespace }}
{{- $services := list (include "gate.fullname" .) }}
{{- if .Values.events.enabled }}{{ $services = append $services (printf "%s-events" (include "gate.fullname" .)) }}{{ end }}
{{- if .Values.metrics.service.enabled }}{{ $services = append $services (printf "%s-metrics" (include "gate.fullname" .)) }}{{ end }}
{{- range $services }}
{{- $names = concat $names (list . (printf "%s.%s" . $ns) (printf "%s.%s.svc" . $ns) (printf "%s.%s.svc.cluster.local" . $ns)) }}
{{- end }}
{{- toJson (concat $names .Values.tls.extraDnsNames) }}
{{- end }}

{{/* The mode: as set, or (empty) warn until some trust is configured, then enforce. With no
trust every image fails signature.missing, so enforcing would block every Pod in the cluster. */}}
{{- define "gate.mode" -}}
{{- if .Values.mode }}{{ .Values.mode }}
{{- else if or .Values.trust.publicKeys .Values.trust.keyless (.Values.images | default list) }}enforce
{{- else }}warn
{{- end }}
{{- end }}

{{/* Fail in enforce mode, Ignore when nothing would be denied anyway or when failing open. */}}
{{- define "gate.failurePolicy" -}}
{{- $explicit := .Values.webhook.failurePolicy }}
{{- if and .Values.failOpen (eq $explicit "Fail") }}
{{- fail "webhook.failurePolicy Fail contradicts failOpen: true (fail open means the API server admits when gate is unreachable); unset one of them" }}
{{- end }}
{{- if $explicit }}{{ $explicit }}
{{- else if or .Values.failOpen (ne (include "gate.mode" .) "enforce") }}Ignore
{{- else }}Fail
{{- end }}
{{- end }}

{{/*
What the validating and the mutating webhook share: selection (kinds, namespaces, objects),
timeout, failure policy and the Service they call. Takes (dict "root" . "path" P "caBundle" CA).
*/}}
{{- define "gate.webhookCommon" -}}
{{- $root := .root -}}
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: {{ include "gate.failurePolicy" $root }}
matchPolicy: Equivalent
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
clientConfig:
  service:
    name: {{ include "gate.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: {{ $root.Values.service.port }}
  {{- if .caBundle }}
  caBundle: {{ .caBundle }}
  {{- end }}
rules:
  - apiGroups: [""]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [pods, replicationcontrollers, podtemplates]
    scope: Namespaced
  - apiGroups: [""]
    apiVersions: [v1]
    operations: [UPDATE]
    resources: [pods/ephemeralcontainers]
    scope: Namespaced
  - apiGroups: [apps]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [deployments, replicasets, statefulsets, daemonsets]
    scope: Namespaced
  - apiGroups: [batch]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [jobs, cronjobs]
    scope: Namespaced
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- toYaml (concat (list "kube-system" $root.Release.Namespace) $root.Values.webhook.excludeNamespaces | uniq) | nindent 8 }}
    - key: {{ $root.Values.webhook.optOutLabel }}
      operator: NotIn
      values: ["true"]
{{- with $root.Values.webhook.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* gate's deadline: below the API server's timeout so gate answers first (issue 7, §3). */}}
{{- define "gate.deadlineSeconds" -}}
{{- $timeout := int .Values.webhook.timeoutSeconds }}
{{- if hasKey .Values.limits "deadline_seconds" }}
{{- $deadline := .Values.limits.deadline_seconds }}
{{- if ge (float64 $deadline) (float64 $timeout) }}
{{- fail (printf "limits.deadline_seconds (%v) must be below webhook.timeoutSeconds (%d): gate must answer before the API server gives up" $deadline $timeout) }}
{{- end }}
{{- $deadline }}
{{- else }}
{{- $deadline := sub $timeout (int .Values.webhook.deadlineMarginSeconds) }}
{{- if lt $deadline 1 }}
{{- fail (printf "webhook.timeoutSeconds (%d) minus webhook.deadlineMarginSeconds (%d) leaves gate less than 1 second" $timeout (int .Values.webhook.deadlineMarginSeconds)) }}
{{- end }}
{{- $deadline }}
{{- end }}
{{- end }}

{{/*
gate's config file (docs/configuration.md) rendered from values. Paths are relative to the file (docs/configuration.md), i.e.
to /etc/gate, where the Deployment's projected volume puts keys, trusted root, registry
credentials and extra Rego beside config.yaml.
*/}}
{{- define "gate.config" -}}
{{- $trust := dict "require_tlog" .Values.trust.requireTlog }}
{{- $keys := list }}
{{- range $name, $_ := .Values.trust.publicKeys }}{{ $keys = append $keys (printf "trust/keys/%s" $name) }}{{ end }}
{{- if $keys }}{{ $_ := set $trust "keys" $keys }}{{ end }}
{{- if .Values.trust.keyless }}{{ $_ := set $trust "keyless" .Values.trust.keyless }}{{ end }}
{{- if .Values.trust.trustedRoot }}{{ $_ := set $trust "trusted_root" "trust/trusted_root.json" }}{{ end }}
{{- $registries := dict "insecure" .Values.registries.insecure }}
{{- if .Values.registries.dockerConfigSecret }}{{ $_ := set $registries "docker_config" "registry/config.json" }}{{ end }}
{{- $limits := merge (dict "deadline_seconds" (include "gate.deadlineSeconds" . | float64)) (omit .Values.limits "deadline_seconds") }}
{{- $policy := dict "engine" "embedded" }}
{{- if .Values.opa.sidecar.enabled }}
{{- $policy = dict "engine" "opa" "opa_url" (printf "http://127.0.0.1:%d" (int .Values.opa.sidecar.port)) }}
{{- end }}
{{- if .Values.policies.extraRego }}{{ $_ := set $policy "dirs" (list "policies") }}{{ end }}
{{- $config := dict "trust" $trust "registries" $registries "limits" $limits "policy" $policy "scan" .Values.scan "fail_open" .Values.failOpen "mode" (include "gate.mode" .) "mutate" .Values.mutate }}
{{- if .Values.rules }}{{ $_ := set $config "rules" .Values.rules }}{{ end }}
{{- if .Values.namespaces }}{{ $_ := set $config "namespaces" .Values.namespaces }}{{ end }}
{{- if .Values.exemptions }}{{ $_ := set $config "exemptions" .Values.exemptions }}{{ end }}
{{- if .Values.audit.enabled }}
{{- $skip := concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq }}
{{- $_ := set $config "audit" (dict "enabled" true "interval" .Values.audit.interval "images_per_second" .Values.audit.imagesPerSecond "exclude_namespaces" $skip "lease_namespace" .Release.Namespace "lease_name" (printf "%s-audit" (include "gate.fullname" .)) "lease_seconds" .Values.audit.leaseSeconds) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Native sidecars (1.29+: an init container that keeps running) start before gate. */}}
{{- define "gate.nativeSidecars" -}}
{{- if semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version }}true{{ end }}
{{- end }}

{{/*
The OPA sidecar. No policy files: gate pushes its policies and data through OPA's REST API when it
starts, so OPA decides with exactly the Rego gate was configured with. No liveness probe: a
restart would empty OPA of what gate pushed.
*/}}
{{- define "gate.opaContainer" -}}
{{- $opa := .Values.opa.sidecar -}}
- name: opa
  image: {{ include "gate.opaImage" . }}
  imagePullPolicy: {{ $opa.image.pullPolicy }}
  {{- if include "gate.nativeSidecars" . }}
  restartPolicy: Always
  {{- end }}
  args:
    - run
    - --server
    - --addr=127.0.0.1:{{ $opa.port }}
    - --diagnostic-addr=0.0.0.0:{{ $opa.diagnosticPort }}
    - --log-level={{ $opa.logLevel }}
    - --disable-telemetry
  ports:
    - name: opa-diag
      containerPort: {{ $opa.diagnosticPort }}
      protocol: TCP
  startupProbe:
    httpGet: {path: /health, port: opa-diag}
    periodSeconds: 1
    failureThreshold: 60
  readinessProbe:
    httpGet: {path: /health, port: opa-diag}
    periodSeconds: 5
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml $opa.resources | nindent 4 }}
{{- end }}
