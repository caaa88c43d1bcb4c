import Foundation
import HTTPTypes
import Hummingbird

/// Serves a stored file (a result, thumbnail or sample) with its media type and single-range support, so a
/// browser's video player can seek. The URL is always one the server built; nothing here comes from the request
/// but the Range header.
struct FileResponder {
    let fileIO = FileIO()

    func respond(_ url: URL, mediaType: String, request: Request, context: some RequestContext, downloadName: String? = nil,
                 cache: String = "no-cache") async throws -> Response {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: url.path), let size = attrs[.size] as? Int else {
            throw APIError(.notFound, "the file is gone")
        }
        var headers: HTTPFields = [.contentType: mediaType, .acceptRanges: "bytes", .cacheControl: cache]
        if let name = downloadName { headers[.contentDisposition] = "attachment; filename=\"\(name)\"" }
        guard size > 0 else {
            headers[.contentLength] = "0"
            return Response(status: .ok, headers: headers)
        }
        if let header = request.headers[.range] {
            guard let range = Self.range(header, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                throw APIError(.rangeNotSatisfiable, "bad or unsatisfiable range", headers: headers)
            }
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            let body = try await fileIO.loadFile(path: url.path, range: range, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        }
        headers[.contentLength] = String(size)
        return Response(status: .ok, headers: headers, body: try await fileIO.loadFile(path: url.path, context: context))
    }

    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within a file of `size` bytes (several ranges: nil).
    static func range(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let ends = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard ends.count == 2 else { return nil }
        if ends[0].isEmpty {
            guard let n = Int(ends[1]), n > 0 else { return nil }
            return max(0, size - n)...(size - 1)
        }
        guard let a = Int(ends[0]), a >= 0, a < size else { return nil }
        if ends[1].isEmpty { return a...(size - 1) }
        guard let b = Int(ends[1]), b >= a else { return nil }
        return a...min(b, size - 1)
    }
}

/// The page: HTML, script and style bundled as resources of this module, read once at start.
struct PageAssets: Sendable {
    let files: [String: (data: Data, type: String)]

    static let names: [(file: String, type: String)] = [
        ("index.html", "text/html; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"), ("favicon.svg", "image/svg+xml"),
    ]

    static func load() throws -> PageAssets {
        var files: [String: (Data, String)] = [:]
        for (name, type) in names {
            let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources")
                ?? Bundle.module.url(forResource: name, withExtension: nil)
            guard let url, let data = try? Data(contentsOf: url) else {
                throw ServerError("the page asset \(name) is missing from the Server module's resources")
            }
            files[name] = (data, type)
        }
        return PageAssets(files: files)
    }

    func response(_ name: String) -> Response {
        guard let f = files[name] else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: f.type, .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: f.data)))
    }
}
