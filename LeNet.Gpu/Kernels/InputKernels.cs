using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// Bring images into the network's input layout [32·32][Stride] (batch innermost). One thread per image.
/// </summary>
public static class InputKernels
{
    public const int Field = 32, Mnist = 28, Border = (Field - Mnist) / 2;

    /// <summary>Float images [Count][32·32] (row-major, already scaled) → input. A transpose.</summary>
    public static void FromFloatImages(Index1D n, int stride, ArrayView<float> images, ArrayView<float> input)
    {
        for (int p = 0; p < Field * Field; p++)
            input[p * stride + n] = images[n * Field * Field + p];
    }

    /// <summary>
    /// Raw 28×28 bytes (MNIST layout, 0 = background, 255 = ink) [Count][784] → input, as the paper prepares
    /// MNIST: a 2-pixel border of background around the 28×28 field; ink v maps to −0.1 + 1.275·v/255, so
    /// background is −0.1 and full ink 1.175.
    /// </summary>
    public static void FromMnistBytes(Index1D n, int stride, ArrayView<byte> images, ArrayView<float> input)
    {
        const float background = -0.1f, range = 1.275f / 255f;
        for (int y = 0; y < Field; y++)
            for (int x = 0; x < Field; x++)
            {
                int sy = y - Border, sx = x - Border;
                float v = background;
                if (sy >= 0 && sy < Mnist && sx >= 0 && sx < Mnist)
                    v = background + range * images[n * Mnist * Mnist + sy * Mnist + sx];
                input[(y * Field + x) * stride + n] = v;
            }
    }

    /// <summary>
    /// Training batch assembly: image order[first + n] of a device-resident dataset [N][32·32] and its label go
    /// to slot n of the batch. The dataset is uploaded once; each epoch uploads only the shuffled order.
    /// </summary>
    public static void Gather(Index1D n, int stride, int first, ArrayView<int> order,
        ArrayView<float> dataset, ArrayView<int> datasetLabels, ArrayView<float> input, ArrayView<int> labels)
    {
        int source = order[first + n];
        long from = (long)source * Field * Field;
        for (int p = 0; p < Field * Field; p++)
            input[p * stride + n] = dataset[from + p];
        labels[n] = datasetLabels[source];
    }
}
