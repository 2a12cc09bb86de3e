using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Bench;

/// <summary>
/// One tile of L bench images as the engine lays it out (each layer [elements][L], <see cref="TileLayout"/>), the
/// shipped digits model's parameters after it in the same pinned buffer: what the CPU-time profiles run a kernel on.
/// </summary>
internal sealed unsafe class BenchTile<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    private static readonly int L = TS.Lanes;
    private readonly PinnedBuffer<float> buffer = new(TileLayout.Floats(TS.Lanes) + P.Length);

    public BenchTile()
    {
        Model = BenchModel.Load();
        Images = BenchInputs.Images(L, 2);
        Model.Parameters.AsSpan().CopyTo(new Span<float>(Parameters, P.Length));
        Stage();
    }

    public LeNetModel Model { get; }

    /// <summary>The tile's images, image-major.</summary>
    public float[] Images { get; }

    public float* Parameters => buffer.Pointer + TileLayout.Floats(L);

    /// <summary>Where the tile's <paramref name="layer"/> lies.</summary>
    public float* this[Layer layer] => buffer.Pointer + TileLayout.OffsetOf(layer, 0, L);

    public ConvolutionTaps C1Rows { get; } = ConvolutionTaps.Rows(C1Maps, 1, InputSize, ConvolutionTaps.AllConnected, L);
    public ConvolutionTaps C3Rows { get; } = ConvolutionTaps.Rows(C3Maps, C1Maps, S2Size, ConvolutionTaps.TableI, L);

    /// <summary>Brings the images into the tile's input layer.</summary>
    public void Stage()
    {
        fixed (float* source = Images) TileStaging<TS, TV>.Floats(source, L, this[Layer.Input]);
    }
}
