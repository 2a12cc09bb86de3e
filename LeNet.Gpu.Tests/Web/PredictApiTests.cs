using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace LeNet.Gpu.Tests.Web;

/// <summary>The JSON API of <c>lenet serve</c>, over HTTP on loopback, against a server in its own process.</summary>
public sealed class PredictApiTests(ServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private const int MaxImageBytes = 1024 * 1024;
    private HttpClient Client => fixture.Client;

    private static ByteArrayContent Body(byte[] bytes, string? contentType)
    {
        var content = new ByteArrayContent(bytes);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private async Task<(HttpStatusCode Status, JsonElement Json, HttpResponseMessage Response)> Post(HttpContent content)
    {
        var response = await Client.PostAsync("api/predict", content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        return (response.StatusCode, json.RootElement.Clone(), response);
    }

    /// <summary>An error answer: the expected status and a short one-line message under "error", nothing else.</summary>
    private static void AssertError(HttpStatusCode expected, (HttpStatusCode Status, JsonElement Json, HttpResponseMessage _) answer, string contains)
    {
        Assert.Equal(expected, answer.Status);
        var properties = answer.Json.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(new[] { "error" }, properties);
        string message = answer.Json.GetProperty("error").GetString()!;
        Assert.Contains(contains, message, StringComparison.OrdinalIgnoreCase);
        Assert.True(message.Length < 200 && !message.Contains('\n'), $"not a short message: {message}");
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    [Fact]
    public async Task Info_names_the_model_the_device_and_the_classes()
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync("api/info"));
        var root = json.RootElement;
        Assert.Equal(ServerFixture.ModelFileName, root.GetProperty("model").GetString());
        Assert.Equal("cpu", root.GetProperty("device").GetString());
        Assert.Equal(Enumerable.Range(0, 10).Select(c => c.ToString()), root.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(new[] { 6, 28, 28 }, Ints(root.GetProperty("layers").GetProperty("c1").GetProperty("shape")));
        Assert.Equal(MaxImageBytes, root.GetProperty("max_image_bytes").GetInt32());
    }

    [Theory]
    [InlineData("image/png")]
    [InlineData("image/jpeg")]
    public async Task A_digit_gives_its_class_ten_probabilities_and_every_layers_maps(string contentType)
    {
        var format = contentType == "image/png" ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg;
        var (status, json, _) = await Post(Body(TestImages.Zero(format), contentType));
        Assert.Equal(HttpStatusCode.OK, status);

        var probabilities = json.GetProperty("probabilities").EnumerateArray().Select(p => p.GetDouble()).ToArray();
        Assert.Equal(10, probabilities.Length);
        Assert.All(probabilities, p => Assert.InRange(p, 0, 1));
        Assert.Equal(1.0, probabilities.Sum(), 4);
        int predicted = json.GetProperty("class").GetInt32();
        Assert.Equal(Array.IndexOf(probabilities, probabilities.Max()), predicted);
        Assert.Equal(predicted.ToString(), json.GetProperty("label").GetString());
        Assert.Equal(ServerFixture.ModelFileName, json.GetProperty("model").GetString());
        Assert.Equal("cpu", json.GetProperty("device").GetString());

        var expected = new Dictionary<string, int[]>
        {
            ["input"] = [1, 32, 32], ["c1"] = [6, 28, 28], ["s2"] = [6, 14, 14], ["c3"] = [16, 10, 10],
            ["s4"] = [16, 5, 5], ["c5"] = [120], ["f6"] = [84],
        };
        var shapes = json.GetProperty("shapes");
        var maps = json.GetProperty("maps");
        Assert.Equal(expected.Keys.Order(), shapes.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(expected.Keys.Order(), maps.EnumerateObject().Select(p => p.Name).Order());
        foreach (var (key, shape) in expected)
        {
            Assert.Equal(shape, Ints(shapes.GetProperty(key)));
            var data = maps.GetProperty(key);
            if (shape.Length == 1)
            {
                Assert.Equal(shape[0], data.GetArrayLength());
                Assert.All(data.EnumerateArray(), v => Assert.True(double.IsFinite(v.GetDouble())));
                continue;
            }
            Assert.Equal(shape[0], data.GetArrayLength());
            Assert.All(data.EnumerateArray(), map =>
            {
                Assert.Equal(shape[1] * shape[2], map.GetArrayLength());
                Assert.All(map.EnumerateArray(), v => Assert.True(double.IsFinite(v.GetDouble())));
            });
        }
        // The input map is the drawing as the network sees it: background −0.1, some ink up to 1.175.
        var input = maps.GetProperty("input")[0].EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(-0.1, input.Min(), 4);
        Assert.InRange(input.Max(), 1.0, 1.1751);
    }

    [Fact]
    public async Task Bytes_that_are_no_image_are_400()
    {
        AssertError(HttpStatusCode.BadRequest, await Post(Body("this is not a picture"u8.ToArray(), "image/png")), "not a PNG");
        AssertError(HttpStatusCode.BadRequest, await Post(Body(new byte[5000], "image/jpeg")), "not a JPEG");
        // A PNG signature followed by garbage gets as far as the decoder.
        var truncated = TestImages.Zero()[..40].Concat(new byte[100]).ToArray();
        AssertError(HttpStatusCode.BadRequest, await Post(Body(truncated, "image/png")), "image");
        AssertError(HttpStatusCode.BadRequest, await Post(Body(TestImages.Blank(), "image/png")), "no ink");
        AssertError(HttpStatusCode.BadRequest, await Post(Body([], "image/png")), "empty");
    }

    [Fact]
    public async Task A_body_over_one_megabyte_is_413()
    {
        var big = new byte[MaxImageBytes + 1];
        TestImages.Zero().AsSpan(0, 8).CopyTo(big);
        AssertError(HttpStatusCode.RequestEntityTooLarge, await Post(Body(big, "image/png")), "larger than");

        // Well over the limit (but not absurdly): still a clean 413, not a reset connection.
        var huge = new byte[3 * MaxImageBytes];
        big.AsSpan(0, 8).CopyTo(huge);
        AssertError(HttpStatusCode.RequestEntityTooLarge, await Post(Body(huge, "image/png")), "larger than");

        // Without a Content-Length (chunked), the limit is enforced while reading.
        var chunked = new StreamContent(new MemoryStream(big));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var request = new HttpRequestMessage(HttpMethod.Post, "api/predict") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than", await response.Content.ReadAsStringAsync());

        // Exactly at the limit is allowed through to the decoder (and fails there, as garbage).
        var atLimit = big[..MaxImageBytes];
        AssertError(HttpStatusCode.BadRequest, await Post(Body(atLimit, "image/png")), "image");
    }

    [Fact]
    public async Task A_body_that_is_not_png_or_jpeg_is_415()
    {
        AssertError(HttpStatusCode.UnsupportedMediaType, await Post(Body(TestImages.Zero(), "text/plain")), "image/png or image/jpeg");
        AssertError(HttpStatusCode.UnsupportedMediaType, await Post(Body(TestImages.Zero(), "image/gif")), "image/gif");
        AssertError(HttpStatusCode.UnsupportedMediaType, await Post(Body(TestImages.Zero(), null)), "none");
        // Parameters and case do not matter.
        Assert.Equal(HttpStatusCode.OK, (await Post(Body(TestImages.Zero(), "Image/PNG; name=pad"))).Status);
    }

    [Fact]
    public async Task Other_methods_are_405_and_name_post()
    {
        var response = await Client.GetAsync("api/predict");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(new[] { "POST" }, response.Content.Headers.Allow);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("POST", json.RootElement.GetProperty("error").GetString());

        response = await Client.PutAsync("api/predict", Body(TestImages.Zero(), "image/png"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        response = await Client.PostAsync("api/info", Body(TestImages.Zero(), "image/png"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_paths_are_404_and_the_page_is_served_from_the_server()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("api/nothing")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("nothing.html")).StatusCode);
        var page = await Client.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<canvas id=\"pad\"", html);
        // Nothing from another host: every src and href is a path on this server.
        Assert.DoesNotContain("http://", html.Replace("http-equiv", ""));
        Assert.DoesNotContain("https://", html);
        foreach (var asset in new[] { "app.js", "app.css" })
            Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(asset)).StatusCode);
    }

    [Fact]
    public async Task The_server_keeps_serving_after_bad_requests()
    {
        await Post(Body(new byte[MaxImageBytes + 10], "image/png"));
        await Post(Body("junk"u8.ToArray(), "image/png"));
        await Client.GetAsync("api/predict");
        var (status, _, _) = await Post(Body(TestImages.Zero(), "image/png"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(fixture.Server.HasExited, fixture.Server.Stderr);
    }

    /// <summary>
    /// 8 clients × 25 requests at once on loopback: every request answered 200 with a class, latencies printed.
    /// Only a generous p99 bound is asserted — the CPU accelerator on a shared 2-core machine is slow and noisy.
    /// </summary>
    [Fact]
    public async Task Concurrent_clients_all_get_answers()
    {
        const int clients = 8, requestsEach = 25;
        var image = TestImages.Zero();
        Assert.Equal(HttpStatusCode.OK, (await Post(Body(image, "image/png"))).Status); // warm up

        var latencies = new List<double>();
        var failures = new List<string>();
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (int r = 0; r < requestsEach; r++)
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    using var response = await Client.PostAsync("api/predict", Body(image, "image/png"));
                    string text = await response.Content.ReadAsStringAsync();
                    double ms = clock.Elapsed.TotalMilliseconds;
                    using var json = JsonDocument.Parse(text);
                    if (response.StatusCode != HttpStatusCode.OK || json.RootElement.GetProperty("probabilities").GetArrayLength() != 10)
                        lock (failures) failures.Add($"client {client} request {r}: {(int)response.StatusCode} {text[..Math.Min(200, text.Length)]}");
                    else
                        lock (latencies) latencies.Add(ms);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
                {
                    lock (failures) failures.Add($"client {client} request {r}: {e.GetType().Name}: {e.Message}");
                }
            }
        })));
        wall.Stop();

        latencies.Sort();
        double Percentile(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
        output.WriteLine($"load: {clients} clients × {requestsEach} requests, {latencies.Count} ok, {failures.Count} failed, " +
            $"{wall.Elapsed.TotalSeconds:0.0} s, {latencies.Count / wall.Elapsed.TotalSeconds:0.0} requests/s; " +
            $"latency p50 {Percentile(0.50):0.0} ms, p99 {Percentile(0.99):0.0} ms, max {latencies.LastOrDefault():0.0} ms");
        Assert.Empty(failures);
        Assert.Equal(clients * requestsEach, latencies.Count);
        Assert.InRange(Percentile(0.99), 0, 30_000);
        Assert.False(fixture.Server.HasExited, fixture.Server.Stderr);
    }
}
