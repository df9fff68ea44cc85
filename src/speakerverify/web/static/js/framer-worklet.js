// AudioWorklet: a ring buffer over the microphone signal that posts one frame of
// `frameSize` samples every `hopSize` samples (frame i covers [i*hop, i*hop + frameSize)
// of the capture, full frames only, as the server's extractor frames a signal).
// Only the main thread of this page receives the frames; nothing here touches the network.

class FramerProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { frameSize, hopSize } = options.processorOptions;
    this.frameSize = frameSize;
    this.hopSize = hopSize;
    this.ring = new Float32Array(frameSize);
    this.write = 0; // next write index in the ring
    this.total = 0; // samples received since the start
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data === "stop") this.running = false;
    };
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const channel = input[0]; // mono: the context mixes the microphone down to the first channel we read
      for (let i = 0; i < channel.length; i += 1) {
        this.ring[this.write] = channel[i];
        this.write = (this.write + 1) % this.frameSize;
        this.total += 1;
        if (this.total >= this.frameSize && (this.total - this.frameSize) % this.hopSize === 0) {
          const frame = new Float32Array(this.frameSize);
          // Oldest sample first: the ring's write position is the frame's start.
          const head = this.frameSize - this.write;
          frame.set(this.ring.subarray(this.write), 0);
          frame.set(this.ring.subarray(0, this.write), head);
          this.port.postMessage({ index: (this.total - this.frameSize) / this.hopSize, frame }, [frame.buffer]);
        }
      }
    }
    return this.running;
  }
}

registerProcessor("speakerverify-framer", FramerProcessor);
