import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A boosted cascade of Haar-like features in OpenCV's XML format (`opencv-cascade-classifier`,
/// stageType BOOST, featureType HAAR; upright features only), parsed with Foundation's XMLParser.
public struct HaarCascade: Sendable {
    public struct Rect: Sendable { var x, y, width, height: Int; var weight: Float }
    public struct Feature: Sendable { var rects: [Rect] }
    /// A decision node: value < threshold goes left, else right; a child <= 0 is leaf index -child.
    public struct Node: Sendable { var left: Int; var right: Int; var feature: Int; var threshold: Float }
    public struct WeakClassifier: Sendable { var nodes: [Node]; var leaves: [Float] }
    public struct Stage: Sendable { var threshold: Float; var classifiers: [WeakClassifier] }

    public let windowWidth: Int
    public let windowHeight: Int
    public let stages: [Stage]
    public let features: [Feature]

    /// Parses an OpenCV cascade XML file.
    public init(contentsOf url: URL) throws {
        let data = try readFile(url)
        let builder = CascadeXMLBuilder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        guard parser.parse(), builder.error == nil else {
            let reason = builder.error ?? parser.parserError.map { "\($0)" } ?? "unknown XML error"
            throw MediaError.corruptData("\(url.path) is not a valid OpenCV cascade: \(reason)")
        }
        try self.init(builder: builder, source: url.path)
    }

    private init(builder b: CascadeXMLBuilder, source: String) throws {
        guard b.featureType == "HAAR" else { throw MediaError.unsupportedFormat("\(source): feature type '\(b.featureType ?? "none")' (only HAAR is supported)") }
        guard b.stageType == "BOOST" else { throw MediaError.unsupportedFormat("\(source): stage type '\(b.stageType ?? "none")' (only BOOST is supported)") }
        guard b.width > 0, b.height > 0, b.width <= 256, b.height <= 256 else {
            throw MediaError.corruptData("\(source): bad window size \(b.width)x\(b.height)")
        }
        guard !b.stages.isEmpty, !b.features.isEmpty else { throw MediaError.corruptData("\(source): no stages or features") }
        if b.hasTilted { throw MediaError.unsupportedFormat("\(source): tilted Haar features are not supported") }
        for f in b.features {
            guard (2...3).contains(f.rects.count) else { throw MediaError.corruptData("\(source): a feature has \(f.rects.count) rectangles") }
            for r in f.rects where r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0 || r.x + r.width > b.width || r.y + r.height > b.height {
                throw MediaError.corruptData("\(source): feature rectangle outside the \(b.width)x\(b.height) window")
            }
        }
        for s in b.stages {
            for c in s.classifiers {
                guard !c.nodes.isEmpty, !c.leaves.isEmpty else { throw MediaError.corruptData("\(source): empty weak classifier") }
                for n in c.nodes {
                    guard n.feature >= 0, n.feature < b.features.count else { throw MediaError.corruptData("\(source): feature index \(n.feature) out of range") }
                    for child in [n.left, n.right] {
                        if child > 0 { guard child < c.nodes.count else { throw MediaError.corruptData("\(source): bad node index") } }
                        else { guard -child < c.leaves.count else { throw MediaError.corruptData("\(source): bad leaf index") } }
                    }
                }
            }
        }
        windowWidth = b.width
        windowHeight = b.height
        stages = b.stages
        features = b.features
    }

    // MARK: - The bundled frontal-face cascade

    public static let frontalFaceFileName = "haarcascade_frontalface_default.xml"

    /// Where the bundled cascade is looked for, in order: $TGDM_HAAR_CASCADE, this module's resource
    /// bundle next to the running executable (or test bundle), then Debian's opencv-data location.
    /// (SwiftPM's generated `Bundle.module` would crash when the bundle is missing, so it is not used.)
    static func frontalFaceCandidates() -> [URL] {
        var urls = [URL]()
        if let env = ProcessInfo.processInfo.environment["TGDM_HAAR_CASCADE"], !env.isEmpty { urls.append(URL(fileURLWithPath: env)) }
        var dirs = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        if let exe = Bundle.main.executableURL { dirs.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
        for b in Bundle.allBundles { dirs.append(b.bundleURL.deletingLastPathComponent()) }
        let fm = FileManager.default
        for dir in dirs {
            guard let entries = try? fm.contentsOfDirectory(atPath: dir.path) else { continue }
            for e in entries.sorted() where e.hasSuffix("_Media.resources") || e.hasSuffix("_Media.bundle") {
                let bundle = dir.appendingPathComponent(e)
                urls.append(bundle.appendingPathComponent(frontalFaceFileName))
                urls.append(bundle.appendingPathComponent("Contents/Resources/\(frontalFaceFileName)"))
            }
        }
        urls.append(URL(fileURLWithPath: "/usr/share/opencv4/haarcascades/\(frontalFaceFileName)"))
        urls.append(URL(fileURLWithPath: "/usr/share/opencv/haarcascades/\(frontalFaceFileName)"))
        return urls
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cachedFrontalFace: HaarCascade?

    /// OpenCV's haarcascade_frontalface_default.xml (BSD-3-Clause, shipped in Sources/Media/Resources),
    /// parsed once per process.
    public static func frontalFace() throws -> HaarCascade {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let cachedFrontalFace { return cachedFrontalFace }
        let candidates = frontalFaceCandidates()
        guard let url = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw MediaError.fileNotFound("\(frontalFaceFileName) (looked in $TGDM_HAAR_CASCADE, the Media resource bundle next to the executable, /usr/share/opencv4/haarcascades; set TGDM_HAAR_CASCADE or install opencv-data)")
        }
        let cascade = try HaarCascade(contentsOf: url)
        cachedFrontalFace = cascade
        return cascade
    }
}

/// Collects the cascade while XMLParser walks the file (element path tracked on a stack).
private final class CascadeXMLBuilder: NSObject, XMLParserDelegate {
    var width = 0, height = 0
    var stageType: String?
    var featureType: String?
    var stages = [HaarCascade.Stage]()
    var features = [HaarCascade.Feature]()
    var hasTilted = false
    var error: String?

    private var path = [String]()
    private var text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        let parent = path.last
        path.append(name)
        text = ""
        guard name == "_" else { return }
        switch parent {
        case "stages": stages.append(HaarCascade.Stage(threshold: 0, classifiers: []))
        case "weakClassifiers":
            if stages.isEmpty { fail(parser, "weak classifier outside a stage") } else {
                stages[stages.count - 1].classifiers.append(HaarCascade.WeakClassifier(nodes: [], leaves: []))
            }
        case "features": features.append(HaarCascade.Feature(rects: []))
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parserDidEndDocument(_ parser: XMLParser) {
        if !path.isEmpty, error == nil { error = "the document ends inside <\(path.last!)> (truncated file?)" }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        if error == nil { error = "XML error: \(parseError)" }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        // Some XMLParser implementations recover from malformed input; we do not accept it.
        guard path.last == name else { return fail(parser, "</\(name)> does not close <\(path.last ?? "")>") }
        defer { path.removeLast() }
        let parent = path.count >= 2 ? path[path.count - 2] : nil
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        text = ""
        switch (name, parent) {
        case ("width", "cascade"): width = Int(value) ?? 0
        case ("height", "cascade"): height = Int(value) ?? 0
        case ("stageType", "cascade"): stageType = value
        case ("featureType", "cascade"): featureType = value
        case ("stageThreshold", _):
            guard let t = Float(value), !stages.isEmpty else { return fail(parser, "bad stageThreshold '\(value)'") }
            stages[stages.count - 1].threshold = t
        case ("internalNodes", _):
            let parts = value.split(whereSeparator: { $0.isWhitespace })
            guard parts.count % 4 == 0, !parts.isEmpty, var c = lastClassifier() else { return fail(parser, "bad internalNodes") }
            for i in stride(from: 0, to: parts.count, by: 4) {
                guard let l = Int(parts[i]), let r = Int(parts[i + 1]), let f = Int(parts[i + 2]), let t = Float(parts[i + 3]) else {
                    return fail(parser, "bad internalNodes '\(value)'")
                }
                c.nodes.append(HaarCascade.Node(left: l, right: r, feature: f, threshold: t))
            }
            setLastClassifier(c)
        case ("leafValues", _):
            let leaves = value.split(whereSeparator: { $0.isWhitespace }).compactMap { Float($0) }
            guard !leaves.isEmpty, var c = lastClassifier() else { return fail(parser, "bad leafValues") }
            c.leaves = leaves
            setLastClassifier(c)
        case ("_", "rects"):
            let p = value.split(whereSeparator: { $0.isWhitespace })
            guard p.count == 5, let x = Int(p[0]), let y = Int(p[1]), let w = Int(p[2]), let h = Int(p[3]),
                  let wt = Float(p[4].hasSuffix(".") ? String(p[4].dropLast()) : String(p[4])), !features.isEmpty else {
                return fail(parser, "bad feature rectangle '\(value)'")
            }
            features[features.count - 1].rects.append(HaarCascade.Rect(x: x, y: y, width: w, height: h, weight: wt))
        case ("tilted", _):
            if value == "1" { hasTilted = true }
        default: break
        }
    }

    private func lastClassifier() -> HaarCascade.WeakClassifier? { stages.last?.classifiers.last }
    private func setLastClassifier(_ c: HaarCascade.WeakClassifier) {
        let s = stages.count - 1
        stages[s].classifiers[stages[s].classifiers.count - 1] = c
    }

    private func fail(_ parser: XMLParser, _ message: String) {
        if error == nil { error = message }
        parser.abortParsing()
    }
}
