/// Plain words for libcurl's failure codes, so a user knows whether to check DNS, a proxy,
/// certificates or the server.
public enum NetworkDiagnosis {
    public static func explain(curlCode: Int, detail: String) -> String {
        let advice: String
        switch curlCode {
        case 5: advice = "the proxy's host name did not resolve; check HTTPS_PROXY / HTTP_PROXY"
        case 6: advice = "the host name did not resolve (DNS); check the base URL and your network"
        case 7: advice = "the connection was refused or unreachable; is the server running at that address?"
        case 28: advice = "the connection timed out (timeouts.connect)"
        case 35: advice = "the TLS handshake failed; a proxy or firewall may be intercepting HTTPS"
        case 51, 60: advice = "the server's TLS certificate could not be verified; if a corporate proxy re-signs traffic, install its CA certificate"
        case 52: advice = "the server closed the connection without replying"
        case 55, 56: advice = "the connection was reset while sending or receiving"
        case 18: advice = "the connection closed before the response was complete"
        case 16, 92: advice = "the HTTP/2 stream failed"
        case 97: advice = "the proxy refused the connection; check the proxy settings"
        default: advice = "a network error occurred"
        }
        return detail.isEmpty ? advice : "\(advice) (\(detail))"
    }
}
