// Name and value formats of Gateway API (apis/v1/shared_types.go kubebuilder patterns), shared
// by the Gateway and HTTPRoute decoders.

/** Hostname: RFC 1123, optionally with a leading `*.` label; IPs are not hostnames here. */
export const gatewayHostname = /^(?=.{1,253}$)(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** PreciseHostname: as Hostname, without the wildcard. */
export const preciseHostname = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** SectionName: a listener, rule or Service port name. */
export const sectionName = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Group: empty (core) or an RFC 1123 subdomain. */
export const groupName = /^$|^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const kindName = /^(?=.{1,63}$)[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** ObjectName: 1..253 characters, form left to the referent. */
export const objectName = /^.{1,253}$/s;
/** HeaderName: an RFC 7230 token, also used for query parameter names. */
export const headerName = /^(?=.{1,256}$)[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** ProtocolType: a core name such as HTTP or HBONE, or a domain-prefixed one. */
export const protocolType = /^(?=.{1,255}$)([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+)$/;
export const gatewayGroup = 'gateway.networking.k8s.io';
