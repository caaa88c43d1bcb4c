import Foundation

/// One GRU step with PyTorch's gate layout (rows of the weights: reset, update, new):
///   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz),
///   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.
/// `weightIH`/`weightHH`/`biasIH`/`biasHH` are `torch.nn.GRUCell`'s weight_ih/weight_hh/bias_ih/bias_hh.
public final class GRUCell: Module {
    public let weightIH: Tensor
    public let weightHH: Tensor
    public let biasIH: Tensor?
    public let biasHH: Tensor?
    public let inputSize: Int, hiddenSize: Int

    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, generator: Generator? = nil) throws {
        guard inputSize > 0, hiddenSize > 0 else { throw TorchError("GRUCell sizes must be positive, got \(inputSize), \(hiddenSize)") }
        // PyTorch initialises every GRU tensor from U(-1/√hidden, 1/√hidden).
        weightIH = try defaultInit([3 * hiddenSize, inputSize], fanIn: hiddenSize, generator: generator)
        weightHH = try defaultInit([3 * hiddenSize, hiddenSize], fanIn: hiddenSize, generator: generator)
        biasIH = bias ? try defaultInit([3 * hiddenSize], fanIn: hiddenSize, generator: generator) : nil
        biasHH = bias ? try defaultInit([3 * hiddenSize], fanIn: hiddenSize, generator: generator) : nil
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        super.init()
    }

    /// The input projections W_i· x + b_i· of any leading shape (…, 3·hidden); computing them for a
    /// whole sequence at once leaves only the recurrent product inside the time loop.
    public func inputGates(_ x: Tensor) throws -> Tensor { try F.linear(x, weightIH, biasIH) }

    /// One step from precomputed input gates (batch, 3·hidden) and the state (batch, hidden).
    public func step(inputGates gi: Tensor, hidden h: Tensor) throws -> Tensor {
        let gh = try F.linear(h, weightHH, biasHH)
        let i = try gi.chunk(3, dim: -1), g = try gh.chunk(3, dim: -1)
        let reset = try (i[0] + g[0]).sigmoid()
        let update = try (i[1] + g[1]).sigmoid()
        let candidate = try (i[2] + reset * g[2]).tanh()
        // Same association as ATen's GRU cell: (h − n) ⊙ z + n.
        return try (h - candidate) * update + candidate
    }

    public func callAsFunction(_ x: Tensor, _ h: Tensor) throws -> Tensor {
        try step(inputGates: inputGates(x), hidden: h)
    }
}

/// A multi-layer (optionally bidirectional) GRU composed from `GRUCell`s, numerically equivalent to
/// `torch.nn.GRU`. Parameter keys: `layers.L.weightIH` ↔ torch `weight_ih_lL`, `reverseLayers.L.weightIH`
/// ↔ `weight_ih_lL_reverse` (likewise weightHH, biasIH, biasHH).
public final class GRU: Module {
    public let layers: [GRUCell]
    public let reverseLayers: [GRUCell]
    public let hiddenSize: Int, batchFirst: Bool, dropout: Double

    public var numLayers: Int { layers.count }
    public var bidirectional: Bool { !reverseLayers.isEmpty }

    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = true,
                dropout: Double = 0, bidirectional: Bool = false, generator: Generator? = nil) throws {
        guard numLayers > 0 else { throw TorchError("GRU needs at least one layer") }
        guard dropout >= 0 && dropout < 1 else { throw TorchError("GRU dropout \(dropout) is outside [0, 1)") }
        let directions = bidirectional ? 2 : 1
        var forward: [GRUCell] = [], backward: [GRUCell] = []
        for l in 0..<numLayers {
            let inSize = l == 0 ? inputSize : hiddenSize * directions
            forward.append(try GRUCell(inputSize: inSize, hiddenSize: hiddenSize, bias: bias, generator: generator))
            if bidirectional {
                backward.append(try GRUCell(inputSize: inSize, hiddenSize: hiddenSize, bias: bias, generator: generator))
            }
        }
        layers = forward
        reverseLayers = backward
        self.hiddenSize = hiddenSize
        self.batchFirst = batchFirst
        self.dropout = dropout
        super.init()
    }

    /// Runs the sequence. `x` is (batch, time, input) with `batchFirst`, else (time, batch, input);
    /// `h0` is (layers·directions, batch, hidden), zeros when nil. Returns the top layer's outputs
    /// (same layout as `x`, last dimension directions·hidden) and the final states (like `h0`).
    public func callAsFunction(_ x: Tensor, _ h0: Tensor? = nil) throws -> (output: Tensor, hidden: Tensor) {
        guard x.rank == 3 else { throw TorchError("GRU input must be 3-D, got \(x.shape)") }
        var seq = batchFirst ? x : try x.transpose(0, 1) // (batch, time, features)
        let (batch, steps) = (seq.size(0), seq.size(1))
        guard seq.size(2) == layers[0].inputSize else {
            throw TorchError("GRU expects \(layers[0].inputSize) input features, got \(seq.size(2)) in \(x.shape)")
        }
        let directions = bidirectional ? 2 : 1
        let expectedH0 = [numLayers * directions, batch, hiddenSize]
        if let h0, h0.shape != expectedH0 { throw TorchError("GRU h0 has shape \(h0.shape), expected \(expectedH0)") }

        var finals: [Tensor] = []
        for l in 0..<numLayers {
            var outputs: [Tensor] = []
            for d in 0..<directions {
                let cell = d == 0 ? layers[l] : reverseLayers[l]
                let index = l * directions + d
                var h = try h0?.select(0, index) ?? Tensor.zeros([batch, hiddenSize], dtype: seq.dtype, device: seq.device)
                let gates = try cell.inputGates(seq)
                var perStep = [Tensor?](repeating: nil, count: steps)
                for s in 0..<steps {
                    let t = d == 0 ? s : steps - 1 - s
                    h = try cell.step(inputGates: gates.select(1, t), hidden: h)
                    perStep[t] = h
                }
                finals.append(h)
                outputs.append(try Tensor.stack(perStep.map { $0! }, dim: 1))
            }
            seq = directions == 1 ? outputs[0] : try Tensor.cat(outputs, dim: -1)
            if l < numLayers - 1 { seq = try F.dropout(seq, p: dropout, training: training) }
        }
        let output = batchFirst ? seq : try seq.transpose(0, 1)
        return (output, try Tensor.stack(finals, dim: 0))
    }
}
