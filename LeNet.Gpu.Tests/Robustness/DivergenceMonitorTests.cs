using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using Xunit;

namespace LeNet.Gpu.Tests.Robustness;

/// <summary>
/// When a run is declared diverged although nothing overflowed: exploding weights at once; accuracy stuck at chance
/// only after several epochs and many images, so a slow start (a plateau in the first epochs) is never stopped.
/// </summary>
public sealed class DivergenceMonitorTests
{
    private static readonly float[] NormalWeights = Enumerable.Range(0, 1000).Select(i => (float)Math.Sin(i) * 3).ToArray();

    private static Score Epoch(double loss, double accuracy, long images = 60_000) => new(loss, accuracy, images);

    [Fact]
    public void Exploding_weights_stop_the_run_at_once()
    {
        var monitor = new DivergenceMonitor();
        var weights = (float[])NormalWeights.Clone();
        weights[500] = -3.5e9f;
        string? reason = monitor.Observe(Epoch(2.3, 0.1), weights);
        Assert.NotNull(reason);
        Assert.Contains("3.5E+009", reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_plateau_at_chance_that_then_learns_is_never_stopped()
    {
        var monitor = new DivergenceMonitor();
        // Two whole epochs at chance, loss flat (a slow start), then learning.
        foreach (var score in new[] { Epoch(2.30, 0.10), Epoch(2.30, 0.11), Epoch(1.20, 0.62), Epoch(0.40, 0.90), Epoch(0.30, 0.93) })
            Assert.Null(monitor.Observe(score, NormalWeights));
    }

    [Fact]
    public void A_tiny_set_at_chance_for_many_epochs_is_not_judged()
    {
        // 20 images an epoch: far too few samples to call a plateau divergence.
        var monitor = new DivergenceMonitor();
        for (int epoch = 0; epoch < 50; epoch++)
            Assert.Null(monitor.Observe(Epoch(2.30, 0.10, images: 20), NormalWeights));
    }

    [Fact]
    public void Loss_stuck_at_chance_over_many_images_stops_the_run()
    {
        var monitor = new DivergenceMonitor();
        string? reason = null;
        int epochs = 0;
        while (reason is null && epochs < 20)
        {
            reason = monitor.Observe(Epoch(2.31, 0.098, images: 10_000), NormalWeights);
            epochs++;
        }
        Assert.NotNull(reason);
        Assert.Equal(6, epochs); // 60,000 images
        Assert.Contains("chance", reason);
    }

    [Fact]
    public void Chance_accuracy_with_a_loss_far_above_its_start_is_stopped_even_while_the_loss_sinks()
    {
        // MNIST with --lr 3 (4 epochs, cosine schedule); the losses and the later accuracies as measured: the loss
        // jumps to ~60 (from 2.3 at chance) and sinks only as the rate falls.
        var monitor = new DivergenceMonitor();
        Assert.Null(monitor.Observe(Epoch(61.198, 0.100), NormalWeights));
        Assert.Null(monitor.Observe(Epoch(61.06, 0.1002), NormalWeights));
        string? reason = monitor.Observe(Epoch(59.40, 0.1009), NormalWeights);
        Assert.NotNull(reason);
        Assert.Contains("3 epochs and 180,000 images", reason);
    }
}
