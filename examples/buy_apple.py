"""Book §5.4.1: buying two apples at 100 yen each with 10% tax, forward and backward."""

from layerwise import MulLayer

apple = 100
apple_num = 2
tax = 1.1

mul_apple_layer = MulLayer()
mul_tax_layer = MulLayer()

# forward
apple_price = mul_apple_layer.forward(apple, apple_num)
price = mul_tax_layer.forward(apple_price, tax)

# backward
dprice = 1
dapple_price, dtax = mul_tax_layer.backward(dprice)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)

print("price:", round(price))
print("dApple:", round(dapple, 2))
print("dApple_num:", round(dapple_num))
print("dTax:", round(dtax))
