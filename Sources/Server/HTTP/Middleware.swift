import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Guards every request:
/// - on a loopback bind, the Host header must name a loopback host (DNS rebinding: a web page whose name resolves
///   to 127.0.0.1 cannot reach the API);
/// - a state-changing request (POST, DELETE) that carries an Origin must come from this server's own origin
///   (a form on another site cannot submit jobs: multipart POSTs need no CORS preflight);
/// - with a token, `/v1/` requests need `Authorization: Bearer <token>` or the page's `tgdm_token` cookie.
struct SecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let loopbackOnly: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        if loopbackOnly, !ServerConfiguration.isLoopback(Self.hostName(host)) {
            throw APIError(.misdirectedRequest, "this server answers only to a loopback host name, not \(Self.hostName(host))")
        }
        if request.method == .post || request.method == .delete, let origin = request.headers[.origin], origin != "null" {
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
            guard originHost.lowercased() == host.lowercased() else { throw APIError(.forbidden, "cross-origin request refused") }
        } else if request.method == .post || request.method == .delete, request.headers[.origin] == "null" {
            throw APIError(.forbidden, "cross-origin request refused")
        }
        if let token, request.uri.path.hasPrefix("/v1/") || request.uri.path == "/v1" {
            guard Self.authorized(request, token: token) else {
                throw APIError(.unauthorized, "missing or wrong token (send Authorization: Bearer <token>)",
                               headers: [.wwwAuthenticate: "Bearer realm=\"tgdm\""])
            }
        }
        return try await next(request, context)
    }

    /// The host name of a Host header value ("127.0.0.1:8080" → "127.0.0.1", "[::1]:80" → "::1").
    static func hostName(_ authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<end])
        }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }

    static func authorized(_ request: Request, token: String) -> Bool {
        if let h = request.headers[.authorization], h.hasPrefix("Bearer ") {
            return constantTimeEqual(String(h.dropFirst(7)).trimmingCharacters(in: .whitespaces), token)
        }
        for cookieHeader in request.headers[values: .cookie] {
            for pair in cookieHeader.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                // The page stores the token with encodeURIComponent.
                if kv.count == 2, kv[0] == "tgdm_token", constantTimeEqual(String(kv[1]).removingPercentEncoding ?? "", token) { return true }
            }
        }
        return false
    }

    /// Compares without an early exit, so response time does not reveal how much of a guess was right.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }
}

/// A method a route does not answer (TRACE, HEAD, PUT, ...) gets 405 with the route's `Allow` list, not 404.
struct MethodCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let allowed = Routes.allowedMethods(path: request.uri.path), !allowed.contains(request.method) {
            throw APIError(.methodNotAllowed, "\(request.method.rawValue) is not allowed here",
                           headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
        }
        return try await next(request, context)
    }
}

/// One structured log line per request: method, path (no query), status, duration.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        func log(_ status: Int) {
            let ms = (ContinuousClock.now - start).components
            let millis = Double(ms.seconds) * 1000 + Double(ms.attoseconds) / 1e15
            let level: Logger.Level = status >= 500 ? .error : (request.uri.path == "/healthz" ? .debug : .info)
            logger.log(level: level, "request", metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(status)",
                "ms": "\(String(format: "%.1f", millis))",
            ])
        }
        do {
            let response = try await next(request, context)
            log(response.status.code)
            return response
        } catch let e as HTTPResponseError {
            log(e.status.code)
            throw e
        } catch {
            log(500)
            throw error
        }
    }
}

/// Headers every response carries: no sniffing, no framing by other sites, resources from this origin only.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var r = try await next(request, context)
            Self.apply(&r.headers)
            return r
        } catch let e as HTTPResponseError {
            var r = try e.response(from: request, context: context)
            Self.apply(&r.headers)
            return r
        }
    }

    static func apply(_ h: inout HTTPFields) {
        h[.xContentTypeOptions] = "nosniff"
        h[HTTPField.Name("X-Frame-Options")!] = "DENY"
        h[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        h[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
    }
}
