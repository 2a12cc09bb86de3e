using LeNet.Gpu.Cpu;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>The measuring harness of the engine's share: what it runs, how often, and what it reports (not how fast).</summary>
public class FmaCeilingTests
{
    [Fact]
    public void Interleave_runs_every_case_once_a_round_and_reports_medians()
    {
        var calls = new int[2];
        var result = FmaCeiling.Interleave(
            [() => { calls[0]++; return 10.0 + calls[0] % 3; }, () => { calls[1]++; return 5.0; }],
            rounds: 5, threads: 1, roundSeconds: 0.001);
        Assert.Equal([5, 5], calls);
        Assert.Equal(5, result.Ceiling.Length);
        Assert.All(result.Ceiling, r => Assert.True(r > 0 && double.IsFinite(r), $"ceiling round {r}"));
        // Rounds 1..5 give 11, 12, 10, 11, 12: the median is 11.
        Assert.Equal(11.0, result.WorkMedian(0));
        Assert.Equal(5.0, result.WorkMedian(1));
        Assert.Equal(result.CeilingMedian / 1000, result.FloorImagesPerSecond(1000), 9);
        Assert.Equal(5.0 / (result.CeilingMedian / 1000), result.Share(1, 1000), 9);
    }

    [Fact]
    public void Median_of_an_even_count_is_the_mean_of_the_middle_two_and_spread_is_relative()
    {
        Assert.Equal(2.5, Interleaved.Median([4, 1, 3, 2]));
        Assert.Equal((0.5, 1.5), Interleaved.Spread([1, 2, 3]));
    }

    [Fact]
    public void A_round_counts_lanes_chains_iterations_and_threads()
    {
        Assert.Equal(12, FmaCeiling.Chains);
        Assert.Equal((int)FmaCeiling.Width / 32, FmaCeiling.Lanes);
        Assert.True(FmaCeiling.Round(2, 1000) > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => FmaCeiling.Round(0, 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => FmaCeiling.Interleave([() => 1.0], 0, 1, 0.001));
    }
}
