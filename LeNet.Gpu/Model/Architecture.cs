namespace LeNet.Gpu.Model;

public enum LayerKind { Input, Convolution, Subsampling, FullyConnected, Softmax, Rbf }

/// <summary>One row of the model summary.</summary>
/// <param name="Maps">Feature maps (or units) the layer outputs.</param>
/// <param name="Size">Side of each output map (1 for vectors).</param>
public sealed record LayerInfo(string Name, LayerKind Kind, int Maps, int Size, long TrainableParameters, long Connections)
{
    public string OutputShape => Kind is LayerKind.FullyConnected or LayerKind.Softmax or LayerKind.Rbf
        ? $"{Maps}"
        : $"{Maps}@{Size}x{Size}";
}

/// <summary>
/// LeNet-5 (LeCun et al., 1998) as data. Every count below is derived from the shapes and the connection table,
/// never typed in, so the tests that compare them with the paper check the description itself.
/// <code>
/// INPUT 1@32x32
/// C1  conv 5×5      1@32x32 → 6@28x28     (identity: S2 squashes)
/// S2  2×2 sum·c+b   6@28x28 → 6@14x14     squashing
/// C3  conv 5×5      6@14x14 → 16@10x10    sparse, Table I (identity: S4 squashes)
/// S4  2×2 sum·c+b   16@10x10 → 16@5x5     squashing
/// C5  conv 5×5      16@5x5 → 120@1x1      squashing
/// F6  dense         120 → 84              squashing
/// OUTPUT dense      84 → 10, then softmax
/// </code>
/// The paper squashes the weighted sum of every unit up to F6; C1 and C3 are left linear here because the
/// subsampling layer that follows each of them applies the squashing to their (scaled, summed) output, as the
/// paper describes S2.
/// </summary>
public static class Architecture
{
    public const int InputSize = 32;
    public const int KernelSize = 5;
    public const int C1Maps = 6, C1Size = 28;
    public const int S2Size = 14;
    public const int C3Maps = 16, C3Size = 10;
    public const int S4Size = 5;
    public const int C5Units = 120;
    public const int F6Units = 84;
    public const int Classes = 10;

    /// <summary>Floats of one image's input field.</summary>
    public const int InputLength = InputSize * InputSize;

    /// <summary>The layers in order, INPUT to OUTPUT (10-way dense layer + softmax: 84 weights + 1 bias per class).</summary>
    public static readonly IReadOnlyList<LayerInfo> Layers = BuildLayers();

    /// <summary>
    /// The layers with the paper's output: ten Euclidean RBF units over F6's 84 outputs (840 connections) whose
    /// centres are fixed, so no trainable parameters; 340,908 connections in all, the paper's count.
    /// </summary>
    public static readonly IReadOnlyList<LayerInfo> RbfLayers =
        [.. Layers.Take(Layers.Count - 1), new LayerInfo("OUTPUT", LayerKind.Rbf, Classes, 1, 0, (long)Classes * F6Units)];

    public static IReadOnlyList<LayerInfo> LayersOf(OutputLayer output) => output == OutputLayer.Rbf ? RbfLayers : Layers;

    public static long TotalTrainableParameters => Layers.Sum(l => l.TrainableParameters);
    public static long TotalConnections => Layers.Sum(l => l.Connections);

    private static IReadOnlyList<LayerInfo> BuildLayers()
    {
        const int k2 = KernelSize * KernelSize;
        long c3Params = Enumerable.Range(0, C3Maps).Sum(o => ConnectionTable.InputsOf(o).Length * k2 + 1);
        return
        [
            new("INPUT", LayerKind.Input, 1, InputSize, 0, 0),
            new("C1", LayerKind.Convolution, C1Maps, C1Size, C1Maps * (k2 + 1), (long)C1Maps * (k2 + 1) * C1Size * C1Size),
            new("S2", LayerKind.Subsampling, C1Maps, S2Size, 2 * C1Maps, (long)C1Maps * (4 + 1) * S2Size * S2Size),
            new("C3", LayerKind.Convolution, C3Maps, C3Size, c3Params, c3Params * C3Size * C3Size),
            new("S4", LayerKind.Subsampling, C3Maps, S4Size, 2 * C3Maps, (long)C3Maps * (4 + 1) * S4Size * S4Size),
            new("C5", LayerKind.Convolution, C5Units, 1, C5Units * (C3Maps * k2 + 1), C5Units * (C3Maps * k2 + 1)),
            new("F6", LayerKind.FullyConnected, F6Units, 1, F6Units * (C5Units + 1), F6Units * (C5Units + 1)),
            new("OUTPUT", LayerKind.Softmax, Classes, 1, Classes * (F6Units + 1), Classes * (F6Units + 1)),
        ];
    }

    /// <summary>A Keras-like table of the layers: name, output shape, trainable parameters, connections, totals.</summary>
    public static string Summary(Squashing squashing, OutputLayer output = OutputLayer.Softmax)
    {
        var layers = LayersOf(output);
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"LeNet-5 (LeCun et al., 1998), squashing: {squashing.ToName()}, output: {output.ToName()}");
        sb.AppendLine($"{"Layer",-8} {"Output",-10} {"Parameters",12} {"Connections",12}");
        sb.AppendLine(new string('-', 45));
        foreach (var l in layers)
            sb.AppendLine($"{l.Name,-8} {l.OutputShape,-10} {l.TrainableParameters,12:N0} {l.Connections,12:N0}");
        sb.AppendLine(new string('-', 45));
        sb.AppendLine($"{"Total",-19} {layers.Sum(l => l.TrainableParameters),12:N0} {layers.Sum(l => l.Connections),12:N0}");
        return sb.ToString();
    }
}
