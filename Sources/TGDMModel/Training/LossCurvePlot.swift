import Foundation
import Media

/// Draws loss curves (log10 scale, binned per pixel column) into an image, for the trainer's loss.png.
public enum LossCurvePlot {
    public struct Series {
        public let name: String
        public let values: [Double]
        public let color: (r: UInt8, g: UInt8, b: UInt8)
        public init(name: String, values: [Double], color: (r: UInt8, g: UInt8, b: UInt8)) {
            self.name = name
            self.values = values
            self.color = color
        }
    }

    /// A plot of all series over the same x range (index = training step). Non-positive and non-finite
    /// values are skipped. The caption names the series and the y range.
    public static func render(_ series: [Series], width: Int = 640, height: Int = 280, firstStep: Int = 1) throws -> RGBImage {
        guard width >= 64, height >= 64, width <= 4096, height <= 4096 else {
            throw TGDMError.invalidInput("loss plot size \(width)×\(height) out of range")
        }
        let n = series.map(\.values.count).max() ?? 0
        guard n > 0 else { throw TGDMError.invalidInput("no loss values to plot") }
        let margin = 8
        let plotW = width - 2 * margin, plotH = height - 2 * margin
        // Mean of each series per column, in log10.
        let binned: [[Double?]] = series.map { s in
            (0..<plotW).map { col -> Double? in
                let lo = col * n / plotW, hi = max(lo + 1, (col + 1) * n / plotW)
                let vals = s.values[min(lo, s.values.count)..<min(hi, s.values.count)].filter { $0.isFinite && $0 > 0 }
                guard !vals.isEmpty else { return nil }
                return Foundation.log10(vals.reduce(0, +) / Double(vals.count))
            }
        }
        let all = binned.flatMap { $0.compactMap { $0 } }
        guard let yMin = all.min(), let yMax = all.max() else { throw TGDMError.invalidInput("no positive finite loss values") }
        let span = max(yMax - yMin, 1e-6)
        var image = try RGBImage(width: width, height: height, fill: (255, 255, 255))
        // Axes and decade grid lines.
        for x in margin..<(width - margin) { image.setPixel(x: x, y: height - margin, (0, 0, 0)) }
        for y in margin...(height - margin) { image.setPixel(x: margin, y: y, (0, 0, 0)) }
        var decade = Foundation.ceil(yMin)
        while decade <= yMax {
            let y = margin + Int((1 - (decade - yMin) / span) * Double(plotH - 1))
            for x in stride(from: margin, to: width - margin, by: 3) { image.setPixel(x: x, y: y, (200, 200, 200)) }
            decade += 1
        }
        for (s, values) in zip(series, binned) {
            var last: (Int, Int)? = nil
            for (col, v) in values.enumerated() {
                guard let v else { last = nil; continue }
                let x = margin + col
                let y = margin + Int((1 - (v - yMin) / span) * Double(plotH - 1))
                if let (_, ly) = last {
                    for yy in min(ly, y)...max(ly, y) { image.setPixel(x: x, y: yy, s.color) }
                } else {
                    image.setPixel(x: x, y: y, s.color)
                }
                last = (x, y)
            }
        }
        let names = series.map(\.name).joined(separator: ", ")
        let caption = String(format: "%@ | steps %d-%d | log10 %.2f..%.2f (grey: decades)", names, firstStep, firstStep + n - 1, yMin, yMax)
        return try ImageGrid.compose([image], columns: 1, labels: [caption], padding: 0)
    }
}
