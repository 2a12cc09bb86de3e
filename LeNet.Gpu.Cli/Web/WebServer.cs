using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using LeNet.Gpu.Data;
using LeNet.Gpu.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LeNet.Gpu.Cli.Web;

/// <summary>
/// How long <c>serve</c> keeps a connection that sends nothing: idle between requests (keep-alive), and waiting for a
/// request's headers to be complete (a client trickling them). Short, so idle or slow clients cannot hold connections
/// that real ones need.
/// </summary>
public sealed record ConnectionLimits(TimeSpan KeepAlive, TimeSpan RequestHeaders)
{
    public static ConnectionLimits Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
}

/// <summary>What the page and the API say about the model being served.</summary>
public sealed record ServedModel(string Name, IReadOnlyList<string> ClassNames, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// The <c>lenet serve</c> web server: Kestrel on 127.0.0.1 only, one page (HTML, JS and CSS embedded in this
/// assembly, nothing fetched from elsewhere) and a JSON API over an <see cref="InferenceWorker"/>.
/// </summary>
public static class WebServer
{
    /// <summary>Largest request body accepted: a 280×280 canvas PNG is a few kilobytes, a photo far less than this.</summary>
    public const int MaxImageBytes = 1024 * 1024;

    /// <summary>
    /// Bodies over <see cref="MaxImageBytes"/> but under this are read to the end and dropped before the 413, so the
    /// client, still sending, gets the answer instead of a reset connection; larger ones are cut off.
    /// </summary>
    public const int DrainLimit = 16 * MaxImageBytes;

    /// <summary>
    /// Largest picture decoded, in pixels (4096×4096), read from the header before any pixel is: a PNG of a few
    /// hundred kilobytes can declare 8000×8000, which would take gigabytes to decode. Larger ones get 413.
    /// </summary>
    public const long MaxImagePixels = 4096L * 4096;

    /// <summary>
    /// Connections open at once. Far more than anyone at this machine needs (a browser opens at most six), so that a
    /// burst of idle or slow connections does not fill them: <see cref="ConnectionLimits"/> closes those within seconds.
    /// </summary>
    public const int MaxConnections = 1024;

    /// <summary>
    /// Prediction requests handled at once: each may hold a body of up to <see cref="MaxImageBytes"/>, so this bounds
    /// that memory; more get 503 with Retry-After.
    /// </summary>
    public const int MaxRequestsInFlight = 128;

    public static readonly IReadOnlyList<string> ImageTypes = ["image/png", "image/jpeg"];

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The page's files: request path → (embedded resource, content type).</summary>
    private static readonly Dictionary<string, (string Resource, string ContentType)> Assets = new()
    {
        ["/"] = ("index.html", "text/html; charset=utf-8"),
        ["/app.js"] = ("app.js", "text/javascript; charset=utf-8"),
        ["/app.css"] = ("app.css", "text/css; charset=utf-8"),
        ["/favicon.svg"] = ("favicon.svg", "image/svg+xml"),
    };

    /// <summary>Builds the server, bound to 127.0.0.1:<paramref name="port"/> (0: a free port the system picks).</summary>
    /// <param name="limits">How long an idle or slow connection is kept (<see cref="ConnectionLimits.Default"/>).</param>
    public static WebApplication Build(InferenceWorker worker, ServedModel model, int port, ConnectionLimits? limits = null)
    {
        limits ??= ConnectionLimits.Default;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ApplicationName = typeof(WebServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        // Loopback only: the page is for the person at this machine, and there is no authentication.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port);
            kestrel.Limits.MaxRequestBodySize = DrainLimit;
            kestrel.Limits.MaxConcurrentConnections = MaxConnections;
            // Kestrel's defaults keep an idle keep-alive connection 130 s and wait 30 s for a request's headers: a few
            // hundred idle or trickling clients would hold every connection that long.
            kestrel.Limits.KeepAliveTimeout = limits.KeepAlive;
            kestrel.Limits.RequestHeadersTimeout = limits.RequestHeaders;
            kestrel.AddServerHeader = false;
        });
        builder.Logging.ClearProviders();
        // Every log entry is one line on stderr, an exception shown by its type and message only (RequestLog).
        builder.Logging.AddConsole(o => { o.FormatterName = OneLineLogFormatter.Name; o.LogToStandardErrorThreshold = LogLevel.Trace; })
            .AddConsoleFormatter<OneLineLogFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>()
            .SetMinimumLevel(LogLevel.Warning)
            // A failed start (a port in use) is reported by the command as one line; the host's own log of it is a stack trace.
            .AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);

        var app = builder.Build();
        var gate = new DecodeGate();
        var inFlight = new SemaphoreSlim(MaxRequestsInFlight);
        app.Use(RequestLog.Middleware(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("lenet.serve")));
        app.Use(RejectForeignHosts);
        app.Map("/api/predict", async (HttpContext context) =>
        {
            if (!inFlight.Wait(0))
            {
                context.Response.Headers.RetryAfter = "1";
                await Error(context, StatusCodes.Status503ServiceUnavailable, $"busy: {MaxRequestsInFlight} predictions are in progress");
                return;
            }
            try { await Predict(context, worker, model, gate); }
            finally { inFlight.Release(); }
        });
        app.Map("/api/info", (HttpContext context) => Info(context, worker, model));
        app.Map("/api/{**rest}", (HttpContext context) =>
            Error(context, StatusCodes.Status404NotFound, $"no API endpoint {context.Request.Path} (there are /api/predict and /api/info)"));
        app.Map("/{**rest}", Page);
        return app;
    }

    /// <summary>The address the server listens on, once started, as a URL ending in '/'.</summary>
    public static string Url(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // Kestrel reports the resolved port; "127.0.0.1" stays literal so the URL works without name lookup.
        return address.TrimEnd('/') + "/";
    }

    /// <summary>
    /// A page on 127.0.0.1 can still be reached by a foreign site through DNS rebinding; refusing Host names other
    /// than loopback ones closes that door.
    /// </summary>
    private static Task RejectForeignHosts(HttpContext context, RequestDelegate next)
    {
        string host = context.Request.Host.Host;
        bool loopback = host is "localhost" or "127.0.0.1" or "[::1]" || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
        return loopback ? next(context) : Error(context, StatusCodes.Status400BadRequest, $"host '{host}' is not a loopback name");
    }

    private static async Task Predict(HttpContext context, InferenceWorker worker, ServedModel model, DecodeGate gate)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await Error(context, StatusCodes.Status405MethodNotAllowed, $"{request.Method} not allowed: POST a PNG or JPEG image");
            return;
        }
        string? mediaType = MediaType(request.ContentType);
        if (mediaType is null || !ImageTypes.Contains(mediaType))
        {
            await Error(context, StatusCodes.Status415UnsupportedMediaType,
                $"content type must be {string.Join(" or ", ImageTypes)}, got {(request.ContentType is { Length: > 0 } t ? t : "none")}");
            return;
        }
        if (request.ContentLength > DrainLimit)
        {
            await TooLarge(context, closeConnection: true);
            return;
        }

        byte[]? body;
        try
        {
            body = await ReadAtMost(request.Body, MaxImageBytes, context.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // A chunked body longer than DrainLimit: Kestrel stopped reading it.
            await TooLarge(context, closeConnection: true);
            return;
        }
        if (body is null)
        {
            await TooLarge(context, closeConnection: false);
            return;
        }
        if (body.Length == 0)
        {
            await Error(context, StatusCodes.Status400BadRequest, "empty body: send the image's bytes");
            return;
        }
        if (!LooksLike(mediaType, body))
        {
            await Error(context, StatusCodes.Status400BadRequest, $"the body is not a {(mediaType == "image/png" ? "PNG" : "JPEG")} image");
            return;
        }

        if (ImageLoader.Dimensions(body) is not var (width, height))
        {
            await Error(context, StatusCodes.Status400BadRequest, $"image: {PngChunks.Diagnose(body) ?? "not an image format that can be decoded (PNG, JPEG)"}");
            return;
        }
        long pixels = (long)width * height;
        if (pixels > MaxImagePixels)
        {
            await Error(context, StatusCodes.Status413PayloadTooLarge,
                $"image of {width}×{height} pixels is larger than the {MaxImagePixels:N0} pixels (4096×4096) this server decodes");
            return;
        }

        var clock = Stopwatch.StartNew();
        float[] input;
        try
        {
            input = await gate.RunAsync(pixels, () => ImageLoader.Prepare(ImageLoader.Decode(body, "image"), ImageCentring.CenterOfMass, "image"),
                context.RequestAborted);
        }
        catch (DataFormatException e)
        {
            await Error(context, StatusCodes.Status400BadRequest, e.Message);
            return;
        }
        catch (ServerBusyException e)
        {
            context.Response.Headers.RetryAfter = "1";
            await Error(context, StatusCodes.Status503ServiceUnavailable, $"busy: {e.Message}");
            return;
        }
        FeatureMaps maps;
        try
        {
            maps = await worker.TraceAsync(input, context.RequestAborted);
        }
        catch (ServerBusyException e)
        {
            context.Response.Headers.RetryAfter = "1";
            await Error(context, StatusCodes.Status503ServiceUnavailable, $"busy: {e.Message}");
            return;
        }
        // JSON has no NaN or infinity; a model's load check makes them rare, and they are never sent as strings.
        if (!maps.Probabilities.All(float.IsFinite) || !maps.Layers.All(l => l.Values.All(float.IsFinite)))
        {
            await Error(context, StatusCodes.Status500InternalServerError, "the model gave outputs that are not finite numbers for this image");
            return;
        }
        await WriteJson(context, StatusCodes.Status200OK, new PredictResponse(
            maps.Class,
            model.ClassNames[maps.Class],
            maps.Probabilities,
            maps.Layers.ToDictionary(l => l.Key, l => l.IsVector ? (object)l.Values : MapsOf(l)),
            maps.Layers.ToDictionary(l => l.Key, l => l.Shape),
            model.Name,
            worker.Device.Kind.ToName(),
            Math.Round(clock.Elapsed.TotalMilliseconds, 2)));
    }

    private static float[][] MapsOf(FeatureLayer layer) =>
        Enumerable.Range(0, layer.Maps).Select(m => layer.Map(m).ToArray()).ToArray();

    private static Task Info(HttpContext context, InferenceWorker worker, ServedModel model)
    {
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET, HEAD";
            return Error(context, StatusCodes.Status405MethodNotAllowed, $"{context.Request.Method} not allowed: use GET");
        }
        var layers = FeatureMaps.Describe();
        return WriteJson(context, StatusCodes.Status200OK, new InfoResponse(
            model.Name,
            worker.Device.Kind.ToName(),
            worker.Device.Name,
            model.ClassNames,
            model.Metadata,
            layers.ToDictionary(l => l.Key, l => new LayerInfo(l.Name, l.Shape)),
            MaxImageBytes,
            MaxImagePixels,
            ImageTypes));
    }

    private static async Task Page(HttpContext context)
    {
        var request = context.Request;
        if (!Assets.TryGetValue(request.Path.Value ?? "/", out var asset))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("not found\n");
            return;
        }
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            context.Response.Headers.Allow = "GET, HEAD";
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        await using var stream = typeof(WebServer).Assembly.GetManifestResourceStream($"LeNet.Gpu.Cli.Web.{asset.Resource}")
            ?? throw new InvalidOperationException($"page file {asset.Resource} is not embedded in the assembly");
        var headers = context.Response.Headers;
        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = stream.Length;
        // Everything the page uses comes from this server; the policy makes a stray external reference fail
        // visibly instead of silently needing a network.
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.CacheControl = "no-cache";
        if (HttpMethods.IsGet(request.Method))
            await stream.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    /// <summary>"image/PNG; q=1" → "image/png"; null when absent.</summary>
    private static string? MediaType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return null;
        int semicolon = contentType.IndexOf(';');
        return (semicolon < 0 ? contentType : contentType[..semicolon]).Trim().ToLowerInvariant();
    }

    /// <summary>The file signature agrees with the declared type (PNG's 8-byte signature, JPEG's SOI marker).</summary>
    private static bool LooksLike(string mediaType, byte[] body) => mediaType switch
    {
        "image/png" => body.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
        "image/jpeg" => body.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]),
        _ => false,
    };

    /// <summary>The whole body, or null when it is longer than <paramref name="limit"/> (then read to the end and dropped).</summary>
    private static async Task<byte[]?> ReadAtMost(Stream body, int limit, CancellationToken cancellation)
    {
        using var kept = new MemoryStream();
        var chunk = new byte[64 * 1024];
        bool over = false;
        int read;
        while ((read = await body.ReadAsync(chunk, cancellation)) > 0)
        {
            over |= kept.Length + read > limit;
            if (!over) kept.Write(chunk, 0, read);
        }
        return over ? null : kept.ToArray();
    }

    private static Task TooLarge(HttpContext context, bool closeConnection)
    {
        // Part of the body is still unread: the connection cannot carry another request.
        if (closeConnection) context.Response.Headers.Connection = "close";
        return Error(context, StatusCodes.Status413PayloadTooLarge, $"image larger than {MaxImageBytes / 1024} KiB");
    }

    private static Task Error(HttpContext context, int status, string message)
    {
        RequestLog.Note(context, message);
        return WriteJson(context, status, new ErrorResponse(message));
    }

    private static Task WriteJson<T>(HttpContext context, int status, T value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : context.Response.WriteAsync(JsonSerializer.Serialize(value, Json), context.RequestAborted);
    }

    private sealed record ErrorResponse(string Error);

    private sealed record LayerInfo(string Name, int[] Shape);

    private sealed record InfoResponse(string Model, string Device, string DeviceName, IReadOnlyList<string> Classes,
        IReadOnlyDictionary<string, string> Metadata, Dictionary<string, LayerInfo> Layers, int MaxImageBytes,
        long MaxImagePixels, IReadOnlyList<string> ContentTypes);

    /// <summary>
    /// <see cref="Maps"/>: layer key → [maps][height·width] row-major, or [n] for the vector layers (c5, f6);
    /// <see cref="Shapes"/>: layer key → [maps, height, width] or [n].
    /// </summary>
    private sealed record PredictResponse(int Class, string Label, float[] Probabilities, Dictionary<string, object> Maps,
        Dictionary<string, int[]> Shapes, string Model, string Device, double ElapsedMs);
}
