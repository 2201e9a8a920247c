// The smallest stage: a plain function, no import of gridd needed.
export default function upper (text: string): string {
  return text.toUpperCase()
}
