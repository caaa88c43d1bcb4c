import Foundation

/// 2-D convolution over N×C×H×W. `padding` defaults to "same" for odd kernels (dilation × kernel/2),
/// unlike `torch.nn.Conv2d` whose default is 0.
public final class Conv2d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, groups: Int, dilation: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil, groups: Int = 1,
                dilation: Int = 1, bias: Bool = true, generator: Generator? = nil) throws {
        try checkConvArguments("Conv2d", inChannels, outChannels, kernel: kernel, stride: stride, groups: groups, dilation: dilation)
        let fanIn = inChannels / groups * kernel * kernel
        weight = try defaultInit([outChannels, inChannels / groups, kernel, kernel], fanIn: fanIn, generator: generator)
        self.bias = bias ? try defaultInit([outChannels], fanIn: fanIn, generator: generator) : nil
        self.stride = stride
        self.padding = padding ?? dilation * (kernel / 2)
        self.groups = groups
        self.dilation = dilation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try F.conv2d(x, weight, bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    /// Sets weight and bias to zero (for zero-initialised output layers).
    public func zeroInit() throws {
        try Torch.noGrad { try weight.zero_(); try bias?.zero_() }
    }
}

/// 1-D convolution over N×C×L (audio features over time). Same "same"-padding default as `Conv2d`.
public final class Conv1d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, groups: Int, dilation: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil, groups: Int = 1,
                dilation: Int = 1, bias: Bool = true, generator: Generator? = nil) throws {
        try checkConvArguments("Conv1d", inChannels, outChannels, kernel: kernel, stride: stride, groups: groups, dilation: dilation)
        let fanIn = inChannels / groups * kernel
        weight = try defaultInit([outChannels, inChannels / groups, kernel], fanIn: fanIn, generator: generator)
        self.bias = bias ? try defaultInit([outChannels], fanIn: fanIn, generator: generator) : nil
        self.stride = stride
        self.padding = padding ?? dilation * (kernel / 2)
        self.groups = groups
        self.dilation = dilation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try F.conv1d(x, weight, bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// Transposed 2-D convolution (learned upsampling). The weight is in×(out/groups)×k×k as in
/// `torch.nn.ConvTranspose2d`, and so are the defaults (padding 0). The output side is
/// (H−1)·stride − 2·padding + dilation·(k−1) + outputPadding + 1; kernel 4, stride 2, padding 1 doubles it.
public final class ConvTranspose2d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, outputPadding: Int, groups: Int, dilation: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                groups: Int = 1, dilation: Int = 1, bias: Bool = true, generator: Generator? = nil) throws {
        try checkConvArguments("ConvTranspose2d", inChannels, outChannels, kernel: kernel, stride: stride, groups: groups, dilation: dilation)
        guard padding >= 0, outputPadding >= 0, outputPadding < Swift.max(stride, dilation) else {
            throw TorchError("ConvTranspose2d: padding \(padding) / outputPadding \(outputPadding) invalid for stride \(stride), dilation \(dilation)")
        }
        // PyTorch computes the fan-in of a transposed weight from its second dimension.
        let fanIn = outChannels / groups * kernel * kernel
        weight = try defaultInit([inChannels, outChannels / groups, kernel, kernel], fanIn: fanIn, generator: generator)
        self.bias = bias ? try defaultInit([outChannels], fanIn: fanIn, generator: generator) : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        self.dilation = dilation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try F.convTranspose2d(x, weight, bias, stride: (stride, stride), padding: (padding, padding),
                              outputPadding: (outputPadding, outputPadding), dilation: (dilation, dilation), groups: groups)
    }
}

func checkConvArguments(_ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, groups: Int,
                        dilation: Int) throws {
    guard inChannels > 0, outChannels > 0, kernel > 0, stride > 0, groups > 0, dilation > 0 else {
        throw TorchError("\(name): channels \(inChannels)->\(outChannels), kernel \(kernel), stride \(stride), groups \(groups), dilation \(dilation) must be positive")
    }
    guard inChannels % groups == 0, outChannels % groups == 0 else {
        throw TorchError("\(name): channels \(inChannels)->\(outChannels) not divisible by groups \(groups)")
    }
}
