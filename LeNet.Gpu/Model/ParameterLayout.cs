using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Model;

/// <summary>One named tensor inside the flat parameter buffer.</summary>
/// <param name="Name">PyTorch-style name, e.g. <c>c3.weight</c>; also the safetensors tensor name.</param>
/// <param name="Shape">Row-major shape, e.g. [16, 6, 5, 5] for C3's weights.</param>
/// <param name="Offset">Index of the first element in the flat buffer.</param>
/// <param name="FanIn">Inputs feeding one unit that uses this tensor (for the paper's ±2.4/F_in initialisation).</param>
public sealed record ParameterSlice(string Name, int[] Shape, int Offset, int FanIn)
{
    public int Length { get; } = Shape.Aggregate(1, (a, b) => a * b); // once: the training step reads it
    public int End => Offset + Length;
}

/// <summary>
/// Every trainable tensor of LeNet-5 as a named slice of one float buffer (the llm.c layout), in this order:
/// <code>
/// c1.weight [6,1,5,5]    c1.bias [6]        s2.coefficient [6]   s2.bias [6]
/// c3.weight [16,6,5,5]   c3.bias [16]       s4.coefficient [16]  s4.bias [16]
/// c5.weight [120,16,5,5] c5.bias [120]      f6.weight [84,120]   f6.bias [84]
/// output.weight [10,84]  output.bias [10]
/// </code>
/// C3's weights are stored dense (16×6×25); the 900 entries the connection table leaves out are kept at
/// exactly zero and are not counted as trainable.
/// </summary>
public static class ParameterLayout
{
    public static readonly ParameterSlice C1Weight, C1Bias, S2Coefficient, S2Bias, C3Weight, C3Bias,
        S4Coefficient, S4Bias, C5Weight, C5Bias, F6Weight, F6Bias, OutputWeight, OutputBias;

    /// <summary>All slices in buffer order.</summary>
    public static readonly IReadOnlyList<ParameterSlice> Slices;

    /// <summary>Length of the flat buffer (dense C3): 61,750 floats.</summary>
    public static readonly int Length;

    static ParameterLayout()
    {
        var slices = new List<ParameterSlice>();
        int offset = 0;
        ParameterSlice Add(string name, int fanIn, params int[] shape)
        {
            var slice = new ParameterSlice(name, shape, offset, fanIn);
            offset += slice.Length;
            slices.Add(slice);
            return slice;
        }

        const int k = KernelSize;
        // C3's fan-in differs per map (3, 4 or 6 inputs × 25); FanInOf handles it, so 0 here.
        C1Weight = Add("c1.weight", KernelArea, C1Maps, 1, k, k);
        C1Bias = Add("c1.bias", KernelArea, C1Maps);
        S2Coefficient = Add("s2.coefficient", 4, S2Maps);
        S2Bias = Add("s2.bias", 4, S2Maps);
        C3Weight = Add("c3.weight", 0, C3Maps, S2Maps, k, k);
        C3Bias = Add("c3.bias", 0, C3Maps);
        S4Coefficient = Add("s4.coefficient", 4, S4Maps);
        S4Bias = Add("s4.bias", 4, S4Maps);
        C5Weight = Add("c5.weight", S4Maps * KernelArea, C5Units, S4Maps, k, k);
        C5Bias = Add("c5.bias", S4Maps * KernelArea, C5Units);
        F6Weight = Add("f6.weight", C5Units, F6Units, C5Units);
        F6Bias = Add("f6.bias", C5Units, F6Units);
        OutputWeight = Add("output.weight", F6Units, Classes, F6Units);
        OutputBias = Add("output.bias", F6Units, Classes);
        Slices = slices;
        Length = offset;
    }

    public static ParameterSlice Get(string name) =>
        Slices.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"no parameter tensor named '{name}'");

    /// <summary>
    /// 1 for every trainable entry of the flat buffer, 0 for the C3 weights the connection table leaves out.
    /// Updates are multiplied by it, so masked weights never move. An RBF output layer's centres and (zero) bias
    /// are fixed: 0 too.
    /// </summary>
    public static float[] TrainableMask(OutputLayer output = OutputLayer.Softmax)
    {
        var mask = new float[Length];
        Array.Fill(mask, 1f);
        for (int o = 0; o < C3Maps; o++)
            for (int i = 0; i < S2Maps; i++)
                if (!ConnectionTable.IsConnected(o, i))
                    Array.Clear(mask, C3Weight.Offset + (o * S2Maps + i) * KernelArea, KernelArea);
        if (output == OutputLayer.Rbf)
            Array.Clear(mask, OutputWeight.Offset, OutputWeight.Length + OutputBias.Length);
        return mask;
    }

    /// <summary>Fan-in of the unit that parameter <paramref name="index"/> of the flat buffer belongs to.</summary>
    public static int FanInOf(int index)
    {
        var slice = Slices.First(s => index >= s.Offset && index < s.End);
        if (slice == C3Weight)
            return ConnectionTable.InputsOf((index - slice.Offset) / (S2Maps * KernelArea)).Length * KernelArea;
        if (slice == C3Bias)
            return ConnectionTable.InputsOf(index - slice.Offset).Length * KernelArea;
        return slice.FanIn;
    }
}
