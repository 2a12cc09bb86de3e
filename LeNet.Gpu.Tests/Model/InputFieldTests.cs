using LeNet.Gpu.Model;
using Xunit;

namespace LeNet.Gpu.Tests.Model;

/// <summary>
/// The input rule every engine and loader calls (<see cref="InputField"/>), against the paper's numbers and float64
/// formulas written here: ink scaling, MNIST's placement in the field, and the distortions' bilinear sampler.
/// </summary>
public sealed class InputFieldTests
{
    private readonly struct ByteArray(byte[] bytes) : IInkBytes
    {
        public byte At(int index) => bytes[index];
    }

    private readonly struct FloatArray(float[] floats) : IFieldFloats
    {
        public float At(long index) => floats[index];
    }

    [Fact]
    public void Ink_levels_span_the_papers_background_to_foreground()
    {
        Assert.Equal(-0.1f, InputField.Ink((byte)0));
        Assert.Equal(1.175, InputField.Ink((byte)255), 6);
        for (int v = 0; v < 256; v++)
        {
            double expected = -0.1 + 1.275 * v / 255;
            Assert.True(Math.Abs(InputField.Ink((byte)v) - expected) <= 2e-7, $"ink {v}: {InputField.Ink((byte)v)} vs {expected}");
            // A fractional level (a resampled picture) at a whole value is the byte's value, bit for bit.
            Assert.Equal(InputField.Ink((byte)v), InputField.Ink((float)v));
        }
    }

    [Fact]
    public void An_mnist_image_sits_in_the_field_with_a_two_pixel_border()
    {
        // Two images, so the second one's offset is used; its pixel (sx, sy) holds (7·sx + 3·sy) mod 256.
        var bytes = new byte[2 * 784];
        for (int sy = 0; sy < 28; sy++)
            for (int sx = 0; sx < 28; sx++)
                bytes[784 + sy * 28 + sx] = (byte)((sx * 7 + sy * 3) % 256);
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                bool inside = x >= 2 && x < 30 && y >= 2 && y < 30;
                float expected = inside ? InputField.Ink(bytes[784 + (y - 2) * 28 + x - 2]) : -0.1f;
                Assert.Equal(expected, InputField.Mnist(new ByteArray(bytes), 784, x, y));
            }
    }

    [Fact]
    public void The_bilinear_sampler_interpolates_inside_and_reads_background_outside()
    {
        var random = new Random(3);
        var field = new float[2 * 1024];
        for (int i = 0; i < field.Length; i++) field[i] = (float)random.NextDouble();
        var floats = new FloatArray(field);
        double Pixel(int x, int y) => x is >= 0 and < 32 && y is >= 0 and < 32 ? field[1024 + y * 32 + x] : -0.1;
        foreach (var (x0, y0) in new[] { (0, 0), (13, 20), (30, 30), (31, 5), (-1, 7), (4, -1), (31, 31), (-3, 40) })
            foreach (var (fx, fy) in new[] { (0f, 0f), (0.25f, 0.75f), (0.5f, 0.5f), (0.9f, 0.1f) })
            {
                double expected = (1 - fy) * ((1 - fx) * Pixel(x0, y0) + fx * Pixel(x0 + 1, y0))
                    + fy * ((1 - fx) * Pixel(x0, y0 + 1) + fx * Pixel(x0 + 1, y0 + 1));
                double actual = InputField.Bilinear(floats, 1024, x0, y0, fx, fy);
                Assert.True(Math.Abs(actual - expected) <= 1e-6, $"({x0}, {y0}) at ({fx}, {fy}): {actual} vs {expected}");
            }
        // At whole positions the sampler returns the pixel itself.
        Assert.Equal(field[1024 + 20 * 32 + 13], InputField.Bilinear(floats, 1024, 13, 20, 0f, 0f));
    }
}
