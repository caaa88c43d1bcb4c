import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An API error: a status and one line, answered as `{"error": "..."}`.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    init(_ e: UploadError) {
        switch e.kind {
        case .badRequest: self.init(.badRequest, e.description)
        case .tooLarge: self.init(.contentTooLarge, e.description)
        case .unsupportedMedia: self.init(.unsupportedMediaType, e.description)
        case .unprocessable: self.init(.unprocessableContent, e.description)
        case .timeout: self.init(.requestTimeout, e.description)
        case .serverError: self.init(.internalServerError, e.description)
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var r = JSONBody.response(["error": message], status: status)
        r.headers.append(contentsOf: headers)
        return r
    }
}

/// JSON responses with the API's encoder.
enum JSONBody {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let data = (try? JSONCoding.encoder.encode(value)) ?? Data("{}".utf8)
        var h = headers
        h[.contentType] = "application/json; charset=utf-8"
        h[.cacheControl] = "no-store"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
