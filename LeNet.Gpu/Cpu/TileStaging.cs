using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Brings a tile's images into the tile layout (<see cref="TileLayout"/>): image-major input [valid][…] →
/// tile [1024][L]. Lanes past the batch get zeros so they stay finite.
/// </summary>
internal static unsafe class TileStaging<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    private static readonly int L = TS.Lanes;

    /// <summary>
    /// Images [valid][1024] → tile [1024][L]. Image by image: contiguous reads, stores one vector apart (reading
    /// across images, 4 KB apart, is half as fast).
    /// </summary>
    public static void Floats(float* source, int valid, float* tile)
    {
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            if (n >= valid)
            {
                for (int e = 0; e < TileLayout.Input; e++) d[e * L] = 0f;
                continue;
            }
            float* s = source + n * TileLayout.Input;
            for (int e = 0; e < TileLayout.Input; e += 4)
            {
                d[e * L] = s[e];
                d[(e + 1) * L] = s[e + 1];
                d[(e + 2) * L] = s[e + 2];
                d[(e + 3) * L] = s[e + 3];
            }
        }
    }

    /// <summary>
    /// MNIST bytes [valid][28·28] → tile [1024][L], as <see cref="Kernels.InputKernels.FromMnistBytes"/>: a 2-pixel
    /// border of background, ink v → −0.1 + 1.275·v/255.
    /// </summary>
    public static void Mnist(byte* source, int valid, float* tile)
    {
        const float background = Architecture.Background, range = 1.275f / 255f;
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            byte* s = source + n * 784;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    int sy = y - 2, sx = x - 2;
                    d[(y * 32 + x) * L] = n >= valid ? 0f
                        : sy is >= 0 and < 28 && sx is >= 0 and < 28 ? background + range * s[sy * 28 + sx]
                        : background;
                }
        }
    }
}
