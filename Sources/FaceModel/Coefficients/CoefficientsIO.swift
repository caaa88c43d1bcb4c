import Torch
import Foundation

/// Reading and writing coefficient files.
///
/// JSON (`.json`), readable and per frame:
/// ```json
/// {"format": "tgdm-3dmm-coefficients", "version": 1,
///  "frames": [{"identity": [80], "expression": [64], "texture": [80], "illumination": [27],
///              "pose": {"angles": [3], "translation": [3]}, "gaze": [4]}, ...]}
/// ```
/// Safetensors (`.safetensors`): one tensor `coefficients` (F32/F64/F16, N × 261) and metadata
/// `format = tgdm-3dmm-coefficients`, `layout = identity80,expression64,texture80,illumination27,pose6,gaze4`.
/// Both are validated on load: wrong lengths, missing parts and NaN/infinite values are errors.
extension Coefficients {
    public static let fileFormat = "tgdm-3dmm-coefficients"
    public static let layoutDescription = "identity80,expression64,texture80,illumination27,pose6,gaze4"

    struct JSONPose: Codable { var angles: [Double]; var translation: [Double] }
    struct JSONFrame: Codable {
        var identity: [Double]
        var expression: [Double]
        var texture: [Double]
        var illumination: [Double]
        var pose: JSONPose
        var gaze: [Double]
    }
    struct JSONFile: Codable {
        var format: String
        var version: Int
        var layout: String?
        var frames: [JSONFrame]
    }

    /// Loads `.json` or `.safetensors` (chosen by the extension).
    public static func load(from url: URL) throws -> Coefficients {
        switch url.pathExtension.lowercased() {
        case "json": return try loadJSON(from: url)
        case "safetensors": return try loadSafetensors(from: url)
        default: throw FaceModelError.invalidFile("\(url.lastPathComponent): coefficient files are .json or .safetensors")
        }
    }

    /// Saves as `.json` or `.safetensors` (chosen by the extension), atomically.
    public func save(to url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "json": try writeAtomically(to: url) { try writeJSON(to: $0) }
        case "safetensors":
            try Safetensors.save(["coefficients": tensor.detach().contiguous()],
                                 metadata: ["format": Coefficients.fileFormat, "layout": Coefficients.layoutDescription],
                                 to: url)
        default: throw FaceModelError.invalidFile("\(url.lastPathComponent): coefficient files are .json or .safetensors")
        }
    }

    public func jsonData() throws -> Data {
        let values = try tensor.detach().toArray(Double.self)
        var frames: [JSONFrame] = []
        for r in 0..<batch {
            let row = Array(values[(r * Coefficients.count)..<((r + 1) * Coefficients.count)])
            func slice(_ p: CoefficientPart) -> [Double] { Array(row[p.range]) }
            let pose = slice(.pose)
            frames.append(JSONFrame(identity: slice(.identity), expression: slice(.expression), texture: slice(.texture),
                                    illumination: slice(.illumination),
                                    pose: JSONPose(angles: Array(pose[0..<3]), translation: Array(pose[3..<6])),
                                    gaze: slice(.gaze)))
        }
        let file = JSONFile(format: Coefficients.fileFormat, version: 1, layout: Coefficients.layoutDescription, frames: frames)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(file)
    }

    /// Writes exactly the bytes of `jsonData()` frame by frame, so a long sequence (an hour of speech is 90 000
    /// frames) costs one frame of text at a time instead of the whole document (JSONEncoder builds all of it).
    func writeJSON(to handle: FileHandle) throws {
        let all = try tensor.detach().to(.float32)
        var values: [Float] = [], first = 0   // rows `first ..< first + values.count / 261`, read 1024 at a time
        func number(_ v: Float) -> String {
            // JSONEncoder writes a Double's shortest form, dropping ".0" from integral values.
            let s = Double(v).description
            return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
        }
        func array(_ part: ArraySlice<Float>, indent: String) -> String {
            "[\n" + part.map { indent + "  " + number($0) }.joined(separator: ",\n") + "\n" + indent + "]"
        }
        try handle.write(contentsOf: Data("{\n  \"format\" : \"\(Coefficients.fileFormat)\",\n  \"frames\" : [\n".utf8))
        for r in 0..<batch {
            if r - first >= values.count / Coefficients.count {
                first = r
                values = try all.narrow(0, r, Swift.min(1024, batch - r)).contiguous().floats()
            }
            let row = values[((r - first) * Coefficients.count)..<((r - first + 1) * Coefficients.count)]
            func slice(_ p: CoefficientPart) -> ArraySlice<Float> { row[(row.startIndex + p.range.lowerBound)..<(row.startIndex + p.range.upperBound)] }
            let pose = slice(.pose)
            let i = "      "
            var frame = "    {\n"
            frame += i + "\"expression\" : " + array(slice(.expression), indent: i) + ",\n"
            frame += i + "\"gaze\" : " + array(slice(.gaze), indent: i) + ",\n"
            frame += i + "\"identity\" : " + array(slice(.identity), indent: i) + ",\n"
            frame += i + "\"illumination\" : " + array(slice(.illumination), indent: i) + ",\n"
            frame += i + "\"pose\" : {\n"
            frame += i + "  \"angles\" : " + array(pose.prefix(3), indent: i + "  ") + ",\n"
            frame += i + "  \"translation\" : " + array(pose.suffix(3), indent: i + "  ") + "\n"
            frame += i + "},\n"
            frame += i + "\"texture\" : " + array(slice(.texture), indent: i) + "\n"
            frame += "    }" + (r + 1 < batch ? ",\n" : "\n")
            try handle.write(contentsOf: Data(frame.utf8))
        }
        try handle.write(contentsOf: Data("  ],\n  \"layout\" : \"\(Coefficients.layoutDescription)\",\n  \"version\" : 1\n}".utf8))
    }

    public static func loadJSON(from url: URL) throws -> Coefficients {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FaceModelError.invalidFile("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try decodeJSON(data) } catch let e as FaceModelError {
            throw FaceModelError.invalidFile("\(url.lastPathComponent): \(e.description)")
        }
    }

    public static func decodeJSON(_ data: Data) throws -> Coefficients {
        let file: JSONFile
        do { file = try JSONDecoder().decode(JSONFile.self, from: data) } catch {
            throw FaceModelError.invalidFile("not a coefficient JSON file (\(describe(error)))")
        }
        guard file.format == fileFormat else {
            throw FaceModelError.invalidFile("format is '\(file.format)', expected '\(fileFormat)'")
        }
        guard file.version == 1 else { throw FaceModelError.invalidFile("unsupported version \(file.version)") }
        guard !file.frames.isEmpty else { throw FaceModelError.invalidFile("no frames") }
        var flat: [Float] = []
        flat.reserveCapacity(file.frames.count * count)
        for (i, f) in file.frames.enumerated() {
            let parts: [(String, [Double], Int)] = [
                ("identity", f.identity, identityCount), ("expression", f.expression, expressionCount),
                ("texture", f.texture, textureCount), ("illumination", f.illumination, illuminationCount),
                ("pose.angles", f.pose.angles, 3), ("pose.translation", f.pose.translation, 3), ("gaze", f.gaze, gazeCount),
            ]
            for (name, values, n) in parts {
                guard values.count == n else {
                    throw FaceModelError.invalidCoefficients("frame \(i): \(name) has \(values.count) values, expected \(n)")
                }
                guard values.allSatisfy({ $0.isFinite && abs($0) < 1e30 }) else {
                    throw FaceModelError.invalidCoefficients("frame \(i): \(name) contains a non-finite value")
                }
                flat += values.map { Float($0) }
            }
        }
        return try Coefficients(Tensor(flat, shape: [file.frames.count, count]))
    }

    public static func loadSafetensors(from url: URL) throws -> Coefficients {
        let file: Safetensors.File
        do { file = try Safetensors.load(url) } catch let e as TorchError {
            throw FaceModelError.invalidFile(e.message)
        }
        guard let t = file.tensors["coefficients"] else {
            throw FaceModelError.invalidFile("\(url.lastPathComponent): no tensor named 'coefficients' (found \(file.tensors.keys.sorted()))")
        }
        if let f = file.metadata["format"], f != fileFormat {
            throw FaceModelError.invalidFile("\(url.lastPathComponent): format is '\(f)', expected '\(fileFormat)'")
        }
        do { return try Coefficients(t) } catch let e as FaceModelError {
            throw FaceModelError.invalidFile("\(url.lastPathComponent): \(e.description)")
        }
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            return "missing '\(key.stringValue)' at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        case DecodingError.dataCorrupted(let ctx):
            return ctx.debugDescription
        default:
            return "\(error)"
        }
    }
}
