import ArgumentParser
import FaceModel
import Foundation
import Media
import Torch

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render 3DMM coefficients (JSON or safetensors, 261 per frame) to a face image I_3d.")

    @Option(name: .long, help: "Coefficients file (.json or .safetensors).")
    var coeffs: String

    @Option(help: "Output size in pixels (square).")
    var size: Int = 256

    @Option(help: "Morphable model file (default: the bundled model).")
    var model: String?

    @Flag(help: "Draw the 68 projected landmarks.")
    var landmarks = false

    @Option(name: .shortAndLong, help: "Output PNG (several frames become a grid).")
    var output: String = "face.png"

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            guard FaceRenderer.sizeRange.contains(size) else { throw ValidationError("--size must be in \(FaceRenderer.sizeRange)") }
            let c = try Coefficients.load(from: inputURL(coeffs))
            let renderer = try FaceRenderer(model: model.map { try MorphableModel(contentsOf: URL(fileURLWithPath: $0)) } ?? .loadDefault())
            let out = try Torch.noGrad { try renderer.render(c, width: size, height: size) }
            var images: [RGBImage] = []
            for i in 0..<c.batch {
                var img = try RGBImage(tensor: out.image.select(0, i))
                if landmarks { try drawLandmarks(&img, out.landmarks.select(0, i)) }
                images.append(img)
            }
            let url = outputURL(output)
            if images.count == 1 { try images[0].write(to: url) } else {
                try ImageGrid.save(images, columns: min(8, images.count), to: url)
            }
            print("wrote \(url.path) (\(c.batch) frame\(c.batch == 1 ? "" : "s"), \(size)×\(size))")
        }
    }
}

func drawLandmarks(_ img: inout RGBImage, _ points: Tensor) throws {
    let p = try points.floats()
    for k in 0..<(p.count / 2) {
        let x = Int(p[2 * k]), y = Int(p[2 * k + 1])
        for dy in -1...1 { for dx in -1...1 {
            let xx = x + dx, yy = y + dy
            if xx >= 0, yy >= 0, xx < img.width, yy < img.height { img.setPixel(x: xx, y: yy, (0, 255, 0)) }
        } }
    }
}

struct FaceGridCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "face-grid",
        abstract: "Render a grid of faces: random identities, or expression modes swept across amplitudes.")

    enum Kind: String, ExpressibleByArgument { case random, expression }

    @Option(help: "random | expression")
    var kind: Kind = .random

    @Option(help: "Rows (expression: the first `rows` expression modes, or see --modes).")
    var rows: Int = 4

    @Option(help: "Columns (expression: amplitudes from -2 to 2).")
    var columns: Int = 6

    @Option(help: "Comma-separated expression modes for --kind expression (e.g. 0,3,7).")
    var modes: String?

    @Option(help: "Tile size in pixels.")
    var size: Int = 128

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(name: .shortAndLong, help: "Output PNG.")
    var output: String = "faces.png"

    func run() throws {
        try runReportingErrors {
            Torch.configureThreads()
            guard rows > 0, columns > 0, rows * columns <= 400 else { throw ValidationError("rows × columns must be in 1...400") }
            let renderer = try FaceRenderer.makeDefault()
            let images: Tensor
            var labels: [String]? = nil
            switch kind {
            case .random:
                images = try Torch.noGrad { try FaceGrid.randomFaces(renderer: renderer, count: rows * columns, seed: seed, size: size).images }
            case .expression:
                let comps = try modes.map { s in
                    try s.split(separator: ",").map { part -> Int in
                        guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("bad --modes entry '\(part)'") }
                        return v
                    }
                } ?? Array(0..<rows)
                let amps = (0..<columns).map { columns == 1 ? 1.0 : -2.0 + 4.0 * Double($0) / Double(columns - 1) }
                let names = renderer.model.expressionNames
                labels = comps.flatMap { c in amps.map { a in "\(c < names.count ? names[c] : "mode \(c)") \(String(format: "%+.1f", a))" } }
                images = try Torch.noGrad { try FaceGrid.expressionGrid(renderer: renderer, components: comps, amplitudes: amps, size: size) }
            }
            let tiles = try (0..<images.size(0)).map { try images.select(0, $0) }
            try ImageGrid.save(tiles, columns: columns, to: outputURL(output), labels: labels)
            print("wrote \(output)")
        }
    }
}
