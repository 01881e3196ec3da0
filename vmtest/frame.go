package vmtest

import (
	"bufio"
	"bytes"
	"io"
)

// The guest has two serial ports: ttyS0 carries the kernel console, ttyS1 the
// payload's output and, interleaved with it, control messages from the guest's
// init (exit status, result files). Control messages are framed with a DLE
// escape so any payload byte passes through unchanged:
//
//	data 0x10        -> 0x10 0x10
//	control "line"   -> 0x10 'C' line '\n'
const (
	frameEsc  = 0x10
	frameCtrl = 'C'
)

// frameWriter escapes payload bytes and frames control lines.
type frameWriter struct {
	w   io.Writer
	buf []byte
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.buf = f.buf[:0]
	for _, b := range p {
		if b == frameEsc {
			f.buf = append(f.buf, frameEsc)
		}
		f.buf = append(f.buf, b)
	}
	if _, err := f.w.Write(f.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Control writes one control line; line must not contain '\n'.
func (f *frameWriter) Control(line string) error {
	msg := make([]byte, 0, len(line)+3)
	msg = append(msg, frameEsc, frameCtrl)
	msg = append(msg, line...)
	msg = append(msg, '\n')
	_, err := f.w.Write(msg)
	return err
}

// demux splits a framed stream into payload bytes (to out) and control lines
// (to ctrl, in order). It returns when r ends.
func demux(r io.Reader, out io.Writer, ctrl func(line string)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var pending bytes.Buffer
	flush := func() error {
		if pending.Len() == 0 {
			return nil
		}
		_, err := out.Write(pending.Bytes())
		pending.Reset()
		return err
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			flush()
			if err == io.EOF {
				return nil
			}
			return err
		}
		if b != frameEsc {
			pending.WriteByte(b)
			// Stream live: flush whenever no more input is buffered.
			if br.Buffered() == 0 || pending.Len() >= 32<<10 {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		next, err := br.ReadByte()
		if err != nil {
			flush()
			return nil
		}
		switch next {
		case frameEsc:
			pending.WriteByte(frameEsc)
		case frameCtrl:
			if err := flush(); err != nil {
				return err
			}
			line, err := br.ReadString('\n')
			ctrl(string(bytes.TrimSuffix([]byte(line), []byte("\n"))))
			if err != nil {
				return nil
			}
		default:
			// Not produced by frameWriter: keep the bytes rather than lose them.
			pending.WriteByte(frameEsc)
			pending.WriteByte(next)
		}
	}
}
