namespace LeNet.Gpu.Model;

public enum LayerKind { Input, Convolution, Subsampling, FullyConnected, Softmax, Rbf }

/// <summary>
/// The network's layers in order, INPUT to OUTPUT: the one list every engine, buffer set and picture walks.
/// OUTPUT is the dense layer (softmax models: its logits) or the RBF layer (its distances); the softmax that
/// follows it holds no state of its own.
/// </summary>
public enum Layer { Input, C1, S2, C3, S4, C5, F6, Output }

/// <summary>One row of the model summary.</summary>
/// <param name="Layer">Which layer.</param>
/// <param name="Maps">Feature maps (or units) the layer outputs.</param>
/// <param name="Size">Side of each output map (1 for vectors).</param>
public sealed record LayerInfo(Layer Layer, LayerKind Kind, int Maps, int Size, long TrainableParameters, long Connections)
{
    /// <summary>The paper's name: INPUT, C1 … F6, OUTPUT.</summary>
    public string Name => Layer.ToString().ToUpperInvariant();

    /// <summary>Values per image: maps × size × size.</summary>
    public int Elements => Maps * Size * Size;

    /// <summary>True for a layer of units rather than maps (C5's 1×1 maps included).</summary>
    public bool IsVector => Size == 1;

    /// <summary>The summary's shape: C5 keeps the paper's 120@1x1, as a convolution.</summary>
    public string OutputShape => Kind is LayerKind.FullyConnected or LayerKind.Softmax or LayerKind.Rbf
        ? $"{Maps}"
        : $"{Maps}@{Size}x{Size}";

    /// <summary>What the layer computes, as Figure 2 of the paper labels it.</summary>
    public string Description => Kind switch
    {
        LayerKind.Input => "input",
        LayerKind.Convolution when Layer == Layer.C3 => "convolution, Table I",
        LayerKind.Convolution => "convolution",
        LayerKind.Subsampling => "subsampling",
        LayerKind.FullyConnected => "full connection",
        LayerKind.Softmax => "full connection, softmax",
        LayerKind.Rbf => "Euclidean RBF",
        _ => Kind.ToString(),
    };
}

/// <summary>
/// LeNet-5 (LeCun et al., 1998) as data. Every count below is derived from the shapes and the connection table,
/// never typed in, so the tests that compare them with the paper check the description itself.
/// <code>
/// INPUT 1@32x32
/// C1  conv 5×5      1@32x32 → 6@28x28     identity (S2 squashes), or squashing (ConvolutionSquashing)
/// S2  2×2 sum·c+b   6@28x28 → 6@14x14     squashing
/// C3  conv 5×5      6@14x14 → 16@10x10    sparse, Table I; identity (S4 squashes), or squashing
/// S4  2×2 sum·c+b   16@10x10 → 16@5x5     squashing
/// C5  conv 5×5      16@5x5 → 120@1x1      squashing
/// F6  dense         120 → 84              squashing
/// OUTPUT dense      84 → 10, then softmax
/// </code>
/// The paper squashes the weighted sum of every unit up to F6, C1 and C3 included; by default C1 and C3 are left
/// linear here, as in many LeNet-5s, because the subsampling layer that follows each of them applies the squashing
/// to their (scaled, summed) output. <see cref="ConvolutionSquashing.Squashed"/> (the paper's recipe) squashes them too;
/// the counts are the same either way.
/// </summary>
public static class Architecture
{
    // The shape table. Constants, so ILGPU folds them into the kernels; every other size is derived from these.
    public const int InputSize = 32;
    public const int KernelSize = 5;
    public const int C1Maps = 6, C1Size = InputSize - KernelSize + 1;
    public const int S2Maps = C1Maps, S2Size = C1Size / 2;
    public const int C3Maps = 16, C3Size = S2Size - KernelSize + 1;
    public const int S4Maps = C3Maps, S4Size = C3Size / 2;
    public const int C5Units = 120;
    public const int F6Units = 84;
    public const int Classes = 10;

    /// <summary>Weights of one 5×5 kernel.</summary>
    public const int KernelArea = KernelSize * KernelSize;

    /// <summary>
    /// Values per image of the input field (the one name of the input's length) and of the two layers the fused kernels
    /// pass through device memory, as constants for the kernels' shared memory; every other layer's length is
    /// <see cref="ActivationLayout.LengthOf(Layer)"/>.
    /// </summary>
    public const int InputLength = InputSize * InputSize;
    public const int S2Length = S2Maps * S2Size * S2Size;
    public const int S4Length = S4Maps * S4Size * S4Size;

    /// <summary>Lengths of C1's and C3's weight tensors (C3's dense), which the fused kernels stage in shared memory.</summary>
    public const int C1WeightLength = C1Maps * KernelArea;
    public const int C3WeightLength = C3Maps * S2Maps * KernelArea;

    /// <summary>Connection masks [out maps][in maps] of the three convolutions (C1 and C5 all-connected, C3 Table I).</summary>
    public const int C1MaskLength = C1Maps * 1, C3MaskLength = C3Maps * S2Maps, C5MaskLength = C5Units * S4Maps;

    /// <summary>A layer's row of <see cref="Layers"/> (softmax output).</summary>
    public static LayerInfo Of(Layer layer) => Layers[(int)layer];

    /// <summary>Values per image of a layer's output.</summary>
    public static int ElementsOf(Layer layer) => Of(layer).Elements;

    /// <summary>The layers in order, INPUT to OUTPUT (10-way dense layer + softmax: 84 weights + 1 bias per class).</summary>
    public static readonly IReadOnlyList<LayerInfo> Layers = BuildLayers();

    /// <summary>
    /// The layers with the paper's output: ten Euclidean RBF units over F6's 84 outputs (840 connections) whose
    /// centres are fixed, so no trainable parameters; 340,908 connections in all, the paper's count.
    /// </summary>
    public static readonly IReadOnlyList<LayerInfo> RbfLayers =
        [.. Layers.Take(Layers.Count - 1), new LayerInfo(Layer.Output, LayerKind.Rbf, Classes, 1, 0, (long)Classes * F6Units)];

    public static IReadOnlyList<LayerInfo> LayersOf(OutputLayer output) => output == OutputLayer.Rbf ? RbfLayers : Layers;

    public static long TotalTrainableParameters => Layers.Sum(l => l.TrainableParameters);
    public static long TotalConnections => Layers.Sum(l => l.Connections);

    private static IReadOnlyList<LayerInfo> BuildLayers()
    {
        const int k2 = KernelArea;
        long c3Params = Enumerable.Range(0, C3Maps).Sum(o => ConnectionTable.InputsOf(o).Length * k2 + 1);
        // Indexed by Layer: Of(layer) relies on this order.
        return
        [
            new(Layer.Input, LayerKind.Input, 1, InputSize, 0, 0),
            new(Layer.C1, LayerKind.Convolution, C1Maps, C1Size, C1Maps * (k2 + 1), (long)C1Maps * (k2 + 1) * C1Size * C1Size),
            new(Layer.S2, LayerKind.Subsampling, S2Maps, S2Size, 2 * S2Maps, (long)S2Maps * (4 + 1) * S2Size * S2Size),
            new(Layer.C3, LayerKind.Convolution, C3Maps, C3Size, c3Params, c3Params * C3Size * C3Size),
            new(Layer.S4, LayerKind.Subsampling, S4Maps, S4Size, 2 * S4Maps, (long)S4Maps * (4 + 1) * S4Size * S4Size),
            new(Layer.C5, LayerKind.Convolution, C5Units, 1, C5Units * (S4Maps * k2 + 1), C5Units * (S4Maps * k2 + 1)),
            new(Layer.F6, LayerKind.FullyConnected, F6Units, 1, F6Units * (C5Units + 1), F6Units * (C5Units + 1)),
            new(Layer.Output, LayerKind.Softmax, Classes, 1, Classes * (F6Units + 1), Classes * (F6Units + 1)),
        ];
    }

    /// <summary>A Keras-like table of the layers: name, output shape, trainable parameters, connections, totals.</summary>
    public static string Summary(Squashing squashing, OutputLayer output = OutputLayer.Softmax,
        ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        var layers = LayersOf(output);
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"LeNet-5 (LeCun et al., 1998), squashing: {squashing.ToName()}, output: {output.ToName()}, C1 and C3: {convolutions.ToName()}");
        sb.AppendLine($"{"Layer",-8} {"Output",-10} {"Parameters",12} {"Connections",12}");
        sb.AppendLine(new string('-', 45));
        foreach (var l in layers)
            sb.AppendLine($"{l.Name,-8} {l.OutputShape,-10} {l.TrainableParameters,12:N0} {l.Connections,12:N0}");
        sb.AppendLine(new string('-', 45));
        sb.AppendLine($"{"Total",-19} {layers.Sum(l => l.TrainableParameters),12:N0} {layers.Sum(l => l.Connections),12:N0}");
        return sb.ToString();
    }
}
