using LeNet.Gpu;
using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: ClassifyDigit IMAGE   (a PNG, JPEG, … of one handwritten digit)");
    return 2;
}

float[] input;
try
{
    // Grayscale, ink scaled into a 20×20 box and centred in the 32×32 field, as MNIST's digits were.
    input = ImageLoader.Load(args[0]);
}
catch (Exception e) when (e is DataNotFoundException or DataFormatException)
{
    Console.Error.WriteLine($"ClassifyDigit: {e.Message}");
    return 1;
}

// The default model is embedded in the package; the engine is the best device here: CUDA, OpenCL, else the CPU.
var model = ShippedModels.Load(ShippedModels.Default);
using var engine = Engines.CreateInference(model);
var prediction = engine.Predict(input);

int digit = prediction.Classes[0];
Console.WriteLine($"{digit} (probability {prediction.ProbabilitiesOf(0)[digit]:0.000})");
return 0;
